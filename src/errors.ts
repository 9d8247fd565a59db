// Coded errors. Retry logic reads only `retriable`; messages name what was wrong and what is allowed.

export type ErrorCode =
  | 'CF_CONFIG_INVALID'
  | 'CF_SPEC_INVALID'
  | 'CF_MODEL_INVALID'
  | 'CF_MODEL_SPEC_MISMATCH'
  | 'CF_SCORING_FAILED'
  | 'CF_STATE_UNAVAILABLE'
  | 'CF_STATE_CONFLICT'
  | 'CF_STATE_FENCED'
  /** A stored customer state in a format this engine cannot read (see docs/architecture.md, "Stored format and rebuild"). */
  | 'CF_STATE_FORMAT'
  /** A stored customer state written with another feature spec's slots (its layout fingerprint differs). */
  | 'CF_STATE_LAYOUT'
  | 'CF_SOURCE_FAILED'
  | 'CF_SINK_FAILED'
  | 'CF_OUTPUT_TOO_LARGE'
  | 'CF_INPUT_INVALID'
  /** An input mapping mapped none of the records it met: the configuration, not the data, is wrong. */
  | 'CF_MAPPING_NO_MATCH'
  | 'CF_LIFECYCLE'
  | 'CF_SNAPSHOT_FAILED'
  | 'CF_SNAPSHOT_EMPTY'
  | 'CF_REGISTRY_FAILED'
  | 'CF_MODEL_NOT_FOUND'
  | 'CF_MODEL_EXISTS'
  | 'CF_ALIAS_CONFLICT'
  | 'CF_ALIAS_STORE_FAILED'
  | 'CF_PROMOTION_REFUSED'
  | 'CF_ROLLBACK_REFUSED'
  | 'CF_MODEL_UNAVAILABLE'
  /** A parallel replay's worker failed, or its outputs broke input order (`churnflow replay --workers`). */
  | 'CF_REPLAY_WORKER';

export class ChurnflowError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(
    code: ErrorCode,
    message: string,
    options: { retriable?: boolean; cause?: unknown; details?: Record<string, unknown> } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ChurnflowError';
    this.code = code;
    this.retriable = options.retriable ?? false;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }
}

export function isRetriable(err: unknown): boolean {
  return err instanceof ChurnflowError ? err.retriable : false;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
