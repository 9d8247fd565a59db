// Reads an NDJSON file line by line (streaming), with 1-based line numbers for error messages.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { ChurnflowError, errorMessage } from '../errors.js';

export interface NdjsonLine {
  readonly line: number;
  readonly text: string;
}

/** Non-blank lines of the file; a missing or unreadable file is a CF_INPUT_INVALID. */
export async function* ndjsonLines(path: string): AsyncGenerator<NdjsonLine> {
  const input = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input, crlfDelay: Infinity });
  let line = 0;
  try {
    for await (const text of lines) {
      line++;
      if (text.trim().length > 0) yield { line, text };
    }
  } catch (err) {
    throw new ChurnflowError('CF_INPUT_INVALID', `cannot read ${path}: ${errorMessage(err)}`, { cause: err });
  } finally {
    lines.close();
    input.destroy();
  }
}
