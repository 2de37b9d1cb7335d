// A client of the grpc-websockets protocol (improbable-eng/grpc-web's WebSocket transport),
// which carries the bidirectional streams gRPC-Web cannot: Watch and LeaseKeepAlive. Typed by
// the protobuf-es descriptors of the method.
//
// Client → server: a header block (HTTP/1 header text: the call's metadata, such as the auth
// token, since a browser's WebSocket cannot carry headers of its own), then 0x00 + one gRPC
// frame per message, and a single 0x01 byte to half-close. Server → client: gRPC-Web frames
// (a 0x80 header block, 0x00 data frames, a 0x80 trailer block with grpc-status) split over
// binary messages, then close 1000.
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { DescMessage, DescMethodBiDiStreaming, MessageInitShape, MessageShape } from "@bufbuild/protobuf";

/** A failed call: the gRPC status code and etcd's message. */
export class GrpcError extends Error {
  constructor(readonly code: number, message: string) {
    super(message);
    this.name = "GrpcError";
  }
}

/** One bidirectional call over a WebSocket. Iterate it for the responses. */
export class BidiStream<I extends DescMessage, O extends DescMessage> implements AsyncIterable<MessageShape<O>> {
  private readonly ws: WebSocket;
  private readonly opened: Promise<void>;
  private buf = new Uint8Array(0);
  private queue: MessageShape<O>[] = [];
  private waiting: (() => void) | null = null;
  private done = false;
  private error: Error | null = null;
  private sawStatus = false;

  /** headers are the call's metadata (e.g. {token}), sent in the header block. */
  constructor(baseUrl: string, private readonly method: DescMethodBiDiStreaming<I, O>, headers: Record<string, string> = {}) {
    let block = "content-type: application/grpc-web+proto\r\nx-grpc-web: 1\r\n";
    for (const [k, v] of Object.entries(headers)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k) || /[\r\n]/.test(v)) throw new TypeError(`bad header ${JSON.stringify(k)}`);
      block += `${k.toLowerCase()}: ${v}\r\n`;
    }
    const url = baseUrl.replace(/^http/, "ws").replace(/\/$/, "") + `/${method.parent.typeName}/${method.name}`;
    this.ws = new WebSocket(url, "grpc-websockets");
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.ws.onopen = () => {
        this.ws.send(new TextEncoder().encode(block));
        resolve();
      };
      this.ws.onerror = () => reject(new GrpcError(14, `websocket to ${url} failed`));
    });
    this.opened.catch(() => {});
    this.ws.onmessage = (e) => this.receive(new Uint8Array(e.data as ArrayBuffer));
    // A socket that closes without a status was cut: report it as Unavailable.
    this.ws.onclose = () => this.finish(this.sawStatus ? null : new GrpcError(14, "connection closed"));
  }

  /** Sends one request message. */
  async send(msg: MessageInitShape<I>): Promise<void> {
    await this.opened;
    const body = toBinary(this.method.input, create(this.method.input, msg));
    const frame = new Uint8Array(6 + body.length);
    new DataView(frame.buffer).setUint32(2, body.length);
    frame.set(body, 6); // frame[0] = 0x00 (data), frame[1] = 0x00 (not compressed)
    this.ws.send(frame);
  }

  /** Half-closes the request side: the server finishes and ends the call. */
  async closeSend(): Promise<void> {
    await this.opened;
    this.ws.send(new Uint8Array([1]));
  }

  /** Ends the call at once (the server cancels it). */
  close(): void {
    this.ws.close(1000);
  }

  private receive(chunk: Uint8Array) {
    const b = new Uint8Array(this.buf.length + chunk.length);
    b.set(this.buf);
    b.set(chunk, this.buf.length);
    this.buf = b;
    while (this.buf.length >= 5) {
      const n = new DataView(this.buf.buffer, this.buf.byteOffset).getUint32(1);
      if (this.buf.length < 5 + n) break;
      const flag = this.buf[0], payload = this.buf.subarray(5, 5 + n);
      this.buf = this.buf.slice(5 + n);
      if (flag & 0x80) {
        this.trailers(new TextDecoder().decode(payload));
      } else {
        this.queue.push(fromBinary(this.method.output, payload));
        this.wake();
      }
    }
  }

  private trailers(text: string) {
    const h = new Map<string, string>();
    for (const line of text.split("\r\n")) {
      const i = line.indexOf(":");
      if (i > 0) h.set(line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim());
    }
    const status = h.get("grpc-status");
    if (status !== undefined) this.sawStatus = true;
    if (status !== undefined && status !== "0") {
      this.error = new GrpcError(Number(status), decodeURIComponent(h.get("grpc-message") ?? ""));
    }
  }

  private finish(err: Error | null) {
    this.done = true;
    this.error ??= err;
    this.wake();
  }

  private wake() {
    const w = this.waiting;
    this.waiting = null;
    w?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<MessageShape<O>> {
    for (;;) {
      const m = this.queue.shift();
      if (m !== undefined) {
        yield m;
        continue;
      }
      if (this.done) {
        if (this.error) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => (this.waiting = resolve));
    }
  }
}
