// The table etcdctl draws with olekukonko/tablewriter (v0.0.5): upper-case headers centred,
// cells aligned right, one space of padding, +---+ borders.

export function renderTable(header: string[], rows: string[][]): string[] {
  // tablewriter's Title: an underscore reads as a space (etcdctl's "hash_revision").
  const head = header.map((h) => h.replaceAll("_", " ").trim().toUpperCase());
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const border = "+" + widths.map((w) => "-".repeat(w + 2)).join("+") + "+";
  const center = (s: string, w: number) => {
    const gap = w - s.length;
    const left = Math.floor(gap / 2);
    return " ".repeat(left) + s + " ".repeat(gap - left);
  };
  const line = (cells: string[], pad: (s: string, w: number) => string) =>
    "|" + cells.map((c, i) => " " + pad(c, widths[i]) + " ").join("|") + "|";
  return [
    border,
    line(head, center),
    border,
    ...rows.map((r) => line(widths.map((_, i) => r[i] ?? ""), (s, w) => s.padStart(w))),
    border,
  ];
}
