// The table etcdctl draws with olekukonko/tablewriter (v0.0.5): upper-case headers centred,
// cells aligned right, one space of padding, +---+ borders.

export function renderTable(header: string[], rows: string[][]): string[] {
  const head = header.map(title);
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

/**
 * tablewriter's Title: an underscore reads as a space (etcdctl's "hash_revision"), and so does
 * a dot unless digits or spaces are on both sides (a number's); trimmed, upper case.
 */
function title(h: string): string {
  const rs = [...h];
  const numOrSpace = (c: string) => (c >= "0" && c <= "9") || c === " ";
  rs.forEach((r, i) => {
    if (r === "_") rs[i] = " ";
    else if (r === "." && ((i !== 0 && !numOrSpace(rs[i - 1])) || (i !== rs.length - 1 && !numOrSpace(rs[i + 1])))) rs[i] = " ";
  });
  const t = rs.join("").trim();
  return (t === "" && h.length > 0 ? " " : t).toUpperCase();
}
