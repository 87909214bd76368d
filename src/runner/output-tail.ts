/**
 * Where a wrapped command's output goes when the wrapper also needs to read it (autocannon and
 * Locust print their figures on stdout; the last error lines come from stderr): every byte
 * passes on to `target` unchanged and in order, and only the last `limit` bytes are kept, so a
 * command that prints for hours never costs more memory than that.
 */
import { Writable } from 'node:stream';

export class OutputTail extends Writable {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes were dropped from the front to stay within the limit. */
  truncated = false;

  constructor(
    private readonly target: Writable | null,
    readonly limit: number,
  ) {
    super();
  }

  /**
   * Kept as it is written, not when it reaches `_write`: a chunk still queued behind a slow
   * target at the command's end is already in text().
   */
  override write(chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    if (Buffer.isBuffer(chunk)) this.keep(chunk);
    else if (typeof chunk === 'string') this.keep(Buffer.from(chunk));
    return super.write(chunk, encoding as BufferEncoding, callback as (error?: Error | null) => void);
  }

  override _write(
    chunk: Buffer | string,
    _encoding: BufferEncoding,
    callback: (error?: Error) => void,
  ): void {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk);
    if (!this.target || this.target.destroyed) return callback();
    // The callback waits for the target, so a slow terminal slows the command as it would
    // have without the wrapper; a target that fails (a closed pipe) must not stop the reading.
    this.target.write(bytes, () => callback());
  }

  /** What was kept, decoded as UTF-8 (a character cut at the front is replaced, not fatal). */
  text(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }

  private keep(bytes: Buffer): void {
    if (bytes.length >= this.limit) {
      this.truncated ||= bytes.length > this.limit || this.size > 0;
      this.chunks = [bytes.subarray(bytes.length - this.limit)];
      this.size = this.limit;
      return;
    }
    this.chunks.push(bytes);
    this.size += bytes.length;
    while (this.size > this.limit) {
      const first = this.chunks[0] as Buffer;
      const over = this.size - this.limit;
      this.truncated = true;
      if (first.length <= over) {
        this.chunks.shift();
        this.size -= first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.size -= over;
      }
    }
  }
}
