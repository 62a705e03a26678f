/**
 * `tsgi.file_wrapper`: turns anything with `read(size)` into a response body that reads one
 * block at a time and closes the file when the response ends. Node's HTTP stack has no
 * sendfile(2), so the gain over a hand-written loop is convenience, not zero-copy.
 */
import type { FileLike, FileWrapper, ResponseBody } from "@foobar/tsgi";

export class FileBody implements AsyncIterable<Uint8Array> {
  constructor(
    readonly file: FileLike,
    readonly blockSize = 64 * 1024,
  ) {}

  async *[Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    for (;;) {
      const block = await this.file.read(this.blockSize);
      if (block.length === 0) return;
      yield block;
    }
  }

  close(): void | Promise<void> {
    return this.file.close?.();
  }
}

export const fileWrapper: FileWrapper = (file, blockSize): ResponseBody =>
  new FileBody(file, blockSize);
