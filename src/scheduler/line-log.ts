/**
 * A sink for a scheduled command's output: hands complete lines to the server log, each cut to
 * `maxLineLength`, and at most `maxLines` of them per run, so a chatty or hostile command
 * cannot flood the log or hold memory. Everything past the limits is discarded.
 */
import { Writable } from 'node:stream';

export class LineLog extends Writable {
  private pending = '';
  private lines = 0;
  private noted = false;

  constructor(
    private readonly sink: (line: string) => void,
    private readonly maxLines = 200,
    private readonly maxLineLength = 2_000,
  ) {
    super({ decodeStrings: false });
  }

  override _write(
    chunk: Buffer | string,
    _enc: BufferEncoding,
    callback: (error?: Error | null) => void,
  ): void {
    if (this.lines < this.maxLines) {
      this.pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
      let newline: number;
      while ((newline = this.pending.indexOf('\n')) !== -1) {
        this.line(this.pending.slice(0, newline));
        this.pending = this.pending.slice(newline + 1);
      }
      // A line without an end is cut, not kept growing.
      if (this.pending.length > this.maxLineLength) {
        this.line(this.pending);
        this.pending = '';
      }
    }
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.flush();
    callback();
  }

  /** Emits a last unterminated line; the command's pipes are never ended, so call this. */
  flush(): void {
    if (this.pending !== '') this.line(this.pending);
    this.pending = '';
  }

  private line(text: string): void {
    const clean = text.replace(/\r$/, '');
    if (this.lines < this.maxLines) {
      this.lines++;
      this.sink(clean.length > this.maxLineLength ? `${clean.slice(0, this.maxLineLength)}…` : clean);
    } else if (!this.noted) {
      this.noted = true;
      this.sink(`(further output not logged: over ${this.maxLines} lines)`);
    }
  }
}
