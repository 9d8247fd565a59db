// Dead-letter sinks that never refuse a dead letter for its size: envelopes are cut to the configured
// limits (sinks.deadLetter), and one the sink still refuses is written once more without its bytes.
// A record that cannot be dead-lettered would otherwise stall its partition for good.
import { limitDeadLetter, withoutBytes, type DeadLetterLimits } from '../events/dead-letter.js';
import type { DeadLetterRecord } from '../events/wire-types.js';
import { ChurnflowError } from '../errors.js';
import type { OutputSinks } from '../operators/write-outputs.js';
import { OutputTooLargeError } from './output-too-large.js';
import type { RecordSink } from './record-sink.js';

export function limitDeadLetters(sink: RecordSink<DeadLetterRecord>, limits: DeadLetterLimits): RecordSink<DeadLetterRecord> {
  return {
    name: sink.name,
    async write(records) {
      const limited = records.map((d) => limitDeadLetter(d, limits));
      try {
        await sink.write(limited);
      } catch (err) {
        if (!(err instanceof OutputTooLargeError)) throw err;
        const bare = err.indexes.map((i) => withoutBytes(limited[i]!));
        await sink.write(bare).catch((again: unknown) => {
          if (!(again instanceof OutputTooLargeError)) throw again;
          throw new ChurnflowError('CF_SINK_FAILED', `${sink.name} refuses even a dead letter without payload (${bare[0]!.reason_code} from ${bare[0]!.source}): raise the topic's max.message.bytes`, { cause: again, retriable: false });
        });
      }
    },
    flush: () => sink.flush(),
    close: () => sink.close(),
  };
}

/** The same sinks with dead letters and late events limited (one wrapper when both are one sink). */
export function limitDeadLetterSinks(sinks: OutputSinks, limits: DeadLetterLimits): OutputSinks {
  const deadLetter = limitDeadLetters(sinks.deadLetter, limits);
  const late = sinks.late === sinks.deadLetter ? deadLetter : limitDeadLetters(sinks.late, limits);
  return { ...sinks, deadLetter, late };
}
