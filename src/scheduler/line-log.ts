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
  /** Dropping the rest of a line that was cut. */
  private skipping = false;

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
    let text = typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    while (text !== '' && this.lines < this.maxLines) {
      const newline = text.indexOf('\n');
      const part = newline === -1 ? text : text.slice(0, newline);
      text = newline === -1 ? '' : text.slice(newline + 1);
      if (!this.skipping) this.pending += part;
      if (newline !== -1) {
        if (!this.skipping) this.line(this.pending);
        this.pending = '';
        this.skipping = false;
      } else if (this.pending.length > this.maxLineLength) {
        // A line without an end is cut, not kept growing; its rest is dropped.
        this.line(this.pending);
        this.pending = '';
        this.skipping = true;
      }
    }
    if (text !== '' && this.lines >= this.maxLines) this.line(text);
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
