// Every config key, with its type, default, bounds and meaning, in one place. Validated once at
// start-up (loadConfig), then frozen; a bad value fails fast naming the key and what is allowed.
import { z } from 'zod';
import { inputMappingSchema } from '../serde/input-mapping.js';
import { DRIFT_MONITOR_OPTION_KEYS } from '../monitoring/drift/drift-options.js';

const ms = (def: number, max = 7 * 86_400_000) => z.number().int().min(0).max(max).default(def);

/** Every drift monitor option by name, each optional (its own check runs in resolveDriftMonitorOptions). */
const driftOptionsSchema = z
  .object(Object.fromEntries(DRIFT_MONITOR_OPTION_KEYS.map((k) => [k, z.number().optional()])) as Record<(typeof DRIFT_MONITOR_OPTION_KEYS)[number], z.ZodOptional<z.ZodNumber>>)
  .strict();

/**
 * TLS to a server, from PEM files (Kubernetes Secret mounts): the CA that signs the server's
 * certificate (else the system CAs), a client certificate and key for mutual TLS, the name the
 * certificate must carry when it is not the host connected to. Verification is on unless turned off.
 */
const tlsSchema = z
  .object({
    /** Default: on when any file or servername below is given (or the URL is rediss:// / https://); false turns it off whatever else is set. */
    enabled: z.boolean().optional(),
    caFile: z.string().min(1).optional(),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    servername: z.string().min(1).optional(),
    /** false accepts any server certificate (a test set-up only: anyone on the path can read and change the traffic). */
    rejectUnauthorized: z.boolean().default(true),
  })
  .strict()
  .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: 'certFile and keyFile go together (a client certificate needs its key)', path: ['certFile'] });

/** A secret given inline (`<name>`) or as a file path (`<name>File`, read once at load): one of the two. */
function oneSecret(obj: Record<string, unknown>, name: string, required: boolean, ctx: z.RefinementCtx): void {
  const inline = obj[name] !== undefined;
  const file = obj[`${name}File`] !== undefined;
  if (inline && file) ctx.addIssue({ code: 'custom', path: [`${name}File`], message: `give ${name} or ${name}File, not both` });
  else if (required && !inline && !file) ctx.addIssue({ code: 'custom', path: [name], message: `required (or ${name}File, a file holding it)` });
}

/** SASL over the Kafka connection; the password inline or from a file. */
const saslSchema = z
  .object({
    mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
    username: z.string().min(1),
    password: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((s, ctx) => oneSecret(s, 'password', true, ctx));

/** A Prometheus label value that also reads well in logs: what `instance.id` may be. */
export const INSTANCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;

export const configSchema = z
  .object({
    engine: z
      .object({
        /** Events this far behind their stream's highest event time still count; older ones go to the late output. */
        allowedLatenessMs: ms(3_600_000, 86_400_000),
        /** The event-time rule (docs/architecture.md, "Event time"). */
        watermark: z
          .object({
            /** An event moves its partition's watermark at most this far past processing time: one record stamped hours ahead cannot make later events late. */
            maxSkewMs: ms(300_000, 86_400_000),
            /** A partition without records for this long (processing time) stops holding back the overall watermark; 0 = never idle. */
            idleTimeoutMs: ms(300_000, 86_400_000),
          })
          .strict()
          .prefault({}),
        batch: z
          .object({
            /**
             * Most records in one micro-batch. A batch only grows this large under load (it closes at
             * a fetch end when no batch runs), and then a larger batch writes each customer once for
             * more of its events and pays the per-batch round trips (Redis write, produce, commit)
             * once for more records: 8192 measured 0.62–0.74× the engine CPU per event of 512 on
             * Redis (aggregation catching up, 3.3–3.5 instead of 2.1 events per state write) and a lower event →
             * risk-event p99 at a saturating fixed rate (docs/architecture.md, "Performance notes",
             * 2026-12-05 06:15). Memory: up to maxSize staged customers at once (≈16 KB of heap each
             * for 120 days of history, ≈130 MB if every record of a full batch is another uncached
             * customer) besides the maxInFlight records.
             */
            maxSize: z.number().int().min(1).max(10_000).default(8192),
            /**
             * Longest a batch waits for company when no fetch end came (file and simulator sources, or
             * a fetch cut short by backpressure). A Kafka fetch end closes the batch at once when no
             * batch runs, and while one runs the batch fills until it is done (operators/micro-batch.ts),
             * so on Kafka this timer is rarely the latency: 50 ms stays the default.
             */
            maxWaitMs: z.number().int().min(0).max(60_000).default(50),
          })
          .strict()
          .prefault({}),
        /**
         * Records a source may run ahead of acknowledgement; at least twice the batch size (one batch
         * running, the next filling). 4 × the default batch, the ratio shipped before; each record is
         * held (message and decoded event) until its batch is acknowledged.
         */
        maxInFlight: z.number().int().min(2).max(1_000_000).default(32_768),
        /** When a score becomes a risk event (src/scoring/emit-rule.ts, docs/architecture.md "Which scores become risk events"). */
        risk: z
          .object({
            /** 'change': first score, band entered or left (with hysteresis), large move after the cooldown; 'every': every score. */
            emit: z.enum(['change', 'every']).default('change'),
            /** How far below a band's lower edge a score must fall to leave the band: exactly one of logOdds or score. */
            hysteresis: z
              .object({ logOdds: z.number().min(0).max(10).optional(), score: z.number().min(0).max(1).optional() })
              .strict()
              .refine((m) => (m.logOdds === undefined) !== (m.score === undefined), 'set exactly one of logOdds (0–10) or score (0–1)')
              .default({ logOdds: 1.2 }),
            /** A move within the band worth an event after the cooldown: exactly one of logOdds or relative; null: never. */
            largeMove: z
              .object({ logOdds: z.number().gt(0).max(20).optional(), relative: z.number().gt(0).max(100).optional() })
              .strict()
              .refine((m) => (m.logOdds === undefined) !== (m.relative === undefined), 'set exactly one of logOdds (> 0, ≤ 20) or relative (> 0, ≤ 100), or null for none')
              .nullable()
              .default({ logOdds: 1.5 }),
            /** Event time after a published event before a large move publishes again (band changes ignore it). */
            cooldownMs: ms(30 * 86_400_000, 365 * 86_400_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    features: z
      .object({
        /** 'builtin:churn_default' or a path to a JSON/YAML spec. */
        spec: z.string().default('builtin:churn_default'),
      })
      .strict()
      .prefault({}),
    model: z
      .object({
        /**
         * Which model scores: `name` under `alias` in the registry. Every instance watches the alias and
         * switches models between batches when it moves (promote / rollback).
         */
        name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'letters, digits, . _ - (a directory name)').default('churn-gbdt'),
        alias: z.enum(['production', 'candidate']).default('production'),
        /** A bundle directory to score with instead of the registry (pinned: no alias, no hot swap). */
        dir: z.string().optional(),
        registry: z
          .object({
            /** Bundles live at <dir>/<name>/<version>/ (manifest.json, model.onnx). */
            dir: z.string().default('models'),
            /** Where aliases live: 'file' (<dir>/<name>/aliases.json, one host) or 'redis' (shared by every instance; state.redis.url). */
            aliasStore: z.enum(['file', 'redis']).default('file'),
            /** How often a running engine reads the alias (a promote/rollback is picked up within this). */
            pollIntervalMs: z.number().int().min(100).max(600_000).default(2000),
          })
          .strict()
          .prefault({}),
        /** What `churnflow model promote` requires of a candidate (without --force). */
        promotion: z
          .object({
            /** Largest allowed drop of each validation metric against production (absolute). */
            maxMetricDrop: z
              .object({
                roc_auc: z.number().min(0).max(1).default(0.01),
                pr_auc: z.number().min(0).max(1).default(0.02),
                recall: z.number().min(0).max(1).default(0.05),
              })
              .strict()
              .prefault({}),
            /** |score - recorded reference output| allowed when the candidate re-scores its reference rows. */
            referenceTolerance: z.number().positive().max(0.01).default(1e-6),
          })
          .strict()
          .prefault({}),
        intraOpThreads: z.number().int().min(1).max(64).default(1),
        /**
         * Share of a batch's rows (256 rows or more) whose trees a worker thread walks while the main
         * thread walks the rest: same scores, bit for bit, on a core the main thread does not use. 0: no worker thread.
         */
        workerShare: z.number().min(0).max(1).default(0.5),
        /** Per-prediction reasons: the top-k features pushing the score up (exact TreeSHAP), on every risk event. 0 = none. */
        reasons: z
          .object({
            topK: z.number().int().min(0).max(20).default(3),
            /** Only risk events at or above the threshold carry reasons (what campaigns act on; exact TreeSHAP costs ~0.5–2 ms a row). */
            aboveThresholdOnly: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
        /** Shadow: the `candidate` alias scores every customer beside production, to its own output only. */
        shadow: z.object({ enabled: z.boolean().default(false) }).strict().prefault({}),
        /** Canary: this share of customers (stable hash of id and salt) is scored by the `candidate` alias. */
        canary: z
          .object({ share: z.number().min(0).max(1).default(0), salt: z.string().min(1).default('churnflow-canary') })
          .strict()
          .prefault({}),
        /** Automatic rollback of the production alias when the model now in production misbehaves. */
        rollback: z
          .object({
            enabled: z.boolean().default(false),
            /** Judge a version on its latest this-many scored customers (and no sooner). */
            minScores: z.number().int().min(10).max(10_000_000).default(5000),
            /** Share of scoring calls (batches) that failed. */
            maxErrorRate: z.number().gt(0).max(1).default(0.05),
            /** p99 of one batch's scoring time, milliseconds. */
            maxLatencyP99Ms: z.number().positive().default(500),
            /**
             * PSI of the live per-event score distribution against the manifest's reference score bins.
             * The reference describes midnight observation rows, not per-event scores: on healthy
             * simulated streams this PSI runs 0.06–0.61 (docs/model-lifecycle.md), so the limit sits above it.
             */
            maxScorePsi: z.number().positive().default(1.0),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    /** Rules that score customers when the model cannot load or score; the engine returns to the model by itself. */
    fallback: z
      .object({
        enabled: z.boolean().default(true),
        name: z.string().min(1).default('fallback-rules'),
        version: z.string().min(1).default('1'),
        /** Score of a customer no rule matches. */
        baseScore: z.number().min(0).max(1).default(0.05),
        threshold: z.number().gt(0).lt(1).default(0.5),
        bands: z
          .array(z.object({ name: z.string().min(1), min_score: z.number().min(0).max(1) }).strict())
          .min(1)
          .default([
            { name: 'low', min_score: 0 },
            { name: 'medium', min_score: 0.3 },
            { name: 'high', min_score: 0.6 },
          ])
          .refine((b) => b[0]!.min_score === 0 && b.every((x, i) => i === 0 || x.min_score > b[i - 1]!.min_score), 'bands must start at min_score 0 and increase strictly'),
        /** A customer's score is the highest score of the rules it matches (feature names from the feature spec). */
        rules: z
          .array(
            z
              .object({
                feature: z.string().min(1),
                op: z.enum(['>', '>=', '<', '<=', '==']),
                value: z.number(),
                score: z.number().min(0).max(1),
              })
              .strict(),
          )
          .default([
            { feature: 'days_since_last_login', op: '>', value: 60, score: 0.8 },
            { feature: 'payment_failures_30d', op: '>', value: 2, score: 0.5 },
            { feature: 'complaints_90d', op: '>=', value: 2, score: 0.4 },
          ]),
        /** While on the fallback, try the model again this often. */
        retryAfterMs: z.number().int().min(100).max(3_600_000).default(30_000),
      })
      .strict()
      .prefault({}),
    /** Experiment arms on risk events: a stable hash of customer id and salt puts each customer in treatment or control. */
    experiment: z
      .object({
        enabled: z.boolean().default(false),
        salt: z.string().min(1).default('churnflow-experiment-1'),
        /** Share of customers in treatment (campaigns act on them); the rest are the held-out control. */
        treatmentShare: z.number().gt(0).lt(1).default(0.9),
      })
      .strict()
      .prefault({}),
    state: z
      .object({
        kind: z.enum(['memory', 'redis']).default('memory'),
        /** Per-customer state budget; above it the oldest day buckets are folded into the archive. */
        maxBytesPerCustomer: z.number().int().min(1024).max(16 * 1024 * 1024).default(65_536),
        /**
         * Content duplicates: an event_id applied again at another position (a producer retry) changes
         * nothing. Each customer remembers the ids of its events within horizonMs of its latest event
         * time, at most maxIds of them (about 32 bytes each). horizonMs 0 turns the check off.
         */
        dedupe: z
          .object({
            horizonMs: ms(3_600_000),
            maxIds: z.number().int().min(1).max(10_000).default(64),
          })
          .strict()
          .prefault({}),
        redis: z
          .object({
            /** redis:// or rediss:// (TLS); credentials here, or in username/password(File) below. */
            url: z.string().default('redis://127.0.0.1:6379'),
            /** ACL user and password; they take precedence over the URL's. */
            username: z.string().min(1).optional(),
            password: z.string().min(1).optional(),
            passwordFile: z.string().min(1).optional(),
            /** TLS (also on with a rediss:// URL). */
            tls: tlsSchema.prefault({}),
            keyPrefix: z.string().regex(/^[^{}]*$/, "no '{' or '}' (the store adds the hash tag)").default('cf:'),
            /** Expire a customer's state after this long without events; keep it well above Kafka retention. */
            idleTtlSeconds: z.number().int().positive().optional(),
            /**
             * The hot cache (src/state/hot-cache.ts): the states of customers this instance wrote, kept in
             * process, so their next batch does one fenced write and no read. Dropped for a partition on
             * revocation, entirely on a fenced write; an uncertain write drops its customers.
             * maxCustomers / maxBytes bound it (least recently used leave first; an entry counts 16 × its
             * stored bytes, about its heap: HEAP_PER_STORED_BYTE).
             */
            cache: z
              .object({
                enabled: z.boolean().default(true),
                maxCustomers: z.number().int().min(1).max(10_000_000).default(50_000),
                maxBytes: z.number().int().min(1_048_576).default(268_435_456),
                /**
                 * Write-behind (src/operators/commit-schedule.ts): a customer whose batch decided nothing
                 * (no risk event, no refusal) stays unwritten in the cache for up to this long, so a busy
                 * customer is written once per period instead of once per batch; offsets are committed
                 * only up to the first record of a state not yet written, so a crash replays at most this
                 * much more. 0 writes every changed customer with its batch.
                 */
                writeBehindMs: z.number().int().min(0).max(300_000).default(10_000),
                /** Most customers held unwritten at once (≈16 KB of heap each at 120 days); beyond it the oldest are written early. */
                maxPendingCustomers: z.number().int().min(1).max(1_000_000).default(10_000),
              })
              .strict()
              .prefault({}),
            /**
             * A Redis Cluster instead of `url`: seed nodes (any of its masters or replicas; the client
             * discovers the rest). Every write is acknowledged only once `waitReplicas` replicas of the
             * customer's master have it (WAIT, at most waitTimeoutMs, else the batch is retried), so a
             * failover never loses a write whose decisions were emitted. 0 turns WAIT off (then a
             * master's crash can lose acknowledged writes: docs/architecture.md, "Redis Cluster").
             */
            cluster: z
              .object({
                nodes: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'host:port')).min(1),
                waitReplicas: z.number().int().min(0).max(16).default(1),
                waitTimeoutMs: z.number().int().min(10).max(60_000).default(1000),
              })
              .strict()
              .optional(),
          })
          .strict()
          .superRefine((r, ctx) => oneSecret(r, 'password', false, ctx))
          .prefault({}),
      })
      .strict()
      .prefault({}),
    source: z
      .object({
        /** kafka: the activity topics; file: replay one NDJSON/Avro file; simulator: generated customers. */
        kind: z.enum(['kafka', 'file', 'simulator']).default('kafka'),
        file: z.string().optional(),
      })
      .strict()
      .prefault({}),
    kafka: z
      .object({
        brokers: z.array(z.string().regex(/^[^\s:]+:\d+$/, 'host:port')).min(1).default(['127.0.0.1:9092']),
        clientId: z.string().min(1).default('churnflow'),
        /** TLS to the brokers (every client: consumer, producer, admin, replay). */
        ssl: tlsSchema.prefault({}),
        /** SASL authentication (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512); use it with ssl, or the password crosses the network in clear (PLAIN). */
        sasl: saslSchema.optional(),
        groupId: z.string().min(1).default('churnflow-scoring'),
        topics: z
          .object({
            activity: z.array(z.string().min(1)).min(1).default(['churnflow.activity']),
            risk: z.string().min(1).default('churnflow.risk'),
            deadLetter: z.string().min(1).default('churnflow.dead-letter'),
            /** Too-late events; by default they share the dead-letter topic (the envelope's route says which). */
            late: z.string().min(1).optional(),
            /** Drift, performance and model-lifecycle (rollback) records. */
            drift: z.string().min(1).default('churnflow.drift'),
            /** Shadow scores of the candidate model (never the campaign consumers' topic); same schema as risk. */
            shadow: z.string().min(1).default('churnflow.risk-shadow'),
            /** Compacted (cleanup.policy=compact), key = customer_id: each customer's last published risk (schemas/current-risk.avsc). */
            currentRisk: z.string().min(1).default('churnflow.current-risk'),
          })
          .strict()
          .prefault({}),
        /** Create missing topics at start (local set-ups); off where operators own the topics. */
        createTopics: z
          .object({ enabled: z.boolean().default(true), partitions: z.number().int().min(1).max(10_000).default(3) })
          .strict()
          .prefault({}),
        /** Where a consumer group without committed offsets starts. */
        fromBeginning: z.boolean().default(true),
        /** Value format on the activity topics. */
        format: z.enum(['confluent-avro', 'json']).default('confluent-avro'),
        sessionTimeoutMs: z.number().int().min(3000).max(300_000).default(10_000),
        heartbeatIntervalMs: z.number().int().min(100).max(60_000).default(1000),
        /** Longest a fetch waits for new data (kafkajs maxWaitTimeInMs); shutdown waits at most this on an idle fetch. */
        fetchMaxWaitMs: z.number().int().min(10).max(30_000).default(500),
        /**
         * Partitions whose fetched batches are handed to the engine at once (kafkajs
         * partitionsConsumedConcurrently). Records of one partition stay in order and the stateful
         * stages take one micro-batch at a time, so per-customer order and commits are unchanged.
         */
        partitionsConsumedConcurrently: z.number().int().min(1).max(64).default(1),
      })
      .strict()
      .prefault({}),
    schemaRegistry: z
      .object({
        url: z.string().url().default('http://127.0.0.1:8081'),
        /** For an https URL: the CA (else the system CAs), a client certificate, the name to verify. `enabled` is implied by https. */
        tls: tlsSchema.prefault({}),
        /** Basic auth (else `user:password@` in the URL). */
        basicAuth: z
          .object({ username: z.string().min(1), password: z.string().min(1).optional(), passwordFile: z.string().min(1).optional() })
          .strict()
          .superRefine((b, ctx) => oneSecret(b, 'password', true, ctx))
          .optional(),
        /** Register the output schemas if their subjects do not exist yet. */
        autoRegister: z.boolean().default(true),
        /** Writer-schema lookups: ids the registry does not know are remembered as unknown for unknownIdTtlMs; at most maxCachedIds ids are kept (least recently used forgotten; keep it above the distinct ids of one fetch); at most maxConcurrentFetches requests at once. */
        cache: z
          .object({
            unknownIdTtlMs: ms(60_000, 86_400_000),
            maxCachedIds: z.number().int().min(1000).max(10_000_000).default(10_000),
            maxConcurrentFetches: z.number().int().min(1).max(256).default(8),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    sinks: z
      .object({
        /** Where risk events, dead letters and late events go; file writes NDJSON under sinks.dir. */
        kind: z.enum(['kafka', 'file', 'stdout']).default('kafka'),
        dir: z.string().default('out/run'),
        /** Dead-letter envelopes keep at most this much of the refused record, so one huge record cannot make its own dead letter unwritable. */
        deadLetter: z
          .object({
            /** Longest payload kept (bytes); the envelope says the original size and `truncated`. Keep well under the topic's max.message.bytes. */
            maxPayloadBytes: z.number().int().min(0).max(16 * 1024 * 1024).default(65_536),
            /** Longest original key (bytes) kept, and longest customer_id repeated in the envelope. */
            maxKeyBytes: z.number().int().min(0).max(1024 * 1024).default(1024),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    monitoring: z
      .object({
        /** Drift (PSI, KS, chi-square, missing rates), delayed-label performance and retraining triggers. */
        enabled: z.boolean().default(false),
        /** Share of customers in the midnight feature sample (a stable hash of the id picks them). */
        sampleRate: z.number().gt(0).max(1).default(1),
        /**
         * The midnight sample's bounds (docs/monitoring.md, "Sampling at scale"): customer ids are
         * enumerated without their state (`scanPage` keys per SCAN), only those of this instance's
         * partitions and within sampleRate are picked, at most `maxCustomers` of them (the lowest
         * sampling hashes: the same customers every day), and their states are loaded `loadChunk` at a time.
         */
        sample: z
          .object({
            maxCustomers: z.number().int().min(1).max(10_000_000).default(50_000),
            loadChunk: z.number().int().min(1).max(100_000).default(500),
            scanPage: z.number().int().min(10).max(100_000).default(1000),
          })
          .strict()
          .prefault({}),
        /** DriftMonitorOptions (src/monitoring/drift/drift-options.ts): windowMs, slideMs, psiWarn, psiAlert, …; a typo is refused, not ignored. */
        options: driftOptionsSchema.default({}),
      })
      .strict()
      .prefault({}),
    /** Mappings from users' own record shapes to churnflow activity events (docs/input-mapping.md). */
    input: inputMappingSchema,
    validation: z
      .object({
        maxFutureMs: ms(86_400_000, 365 * 86_400_000),
        /** Longest customer_id and event_id (characters); longer records are dead-lettered as FIELD_TOO_LONG. */
        maxIdLength: z.number().int().min(1).max(65_536).default(256),
        /** Longest string payload field (characters); longer records are dead-lettered as FIELD_TOO_LONG. */
        maxStringLength: z.number().int().min(1).max(65_536).default(1024),
        /**
         * Earliest plausible event time: older events are dead-lettered as OUT_OF_RANGE (a zero or
         * seconds-for-milliseconds timestamp). An ISO date/time or epoch ms; lower it for history from
         * before 2000 (e.g. examples/cdnow, 1997).
         */
        minEventTime: z
          .union([z.number().int(), z.string()])
          .transform((v, ctx) => {
            const t = typeof v === 'number' ? v : Date.parse(/^\d{4}-\d{2}-\d{2}$/.test(v) ? `${v}T00:00:00Z` : v);
            if (!Number.isFinite(t)) {
              ctx.addIssue({ code: 'custom', message: `an ISO date/time or epoch ms, got ${JSON.stringify(v)}` });
              return z.NEVER;
            }
            return t;
          })
          .default(Date.UTC(2000, 0, 1)),
      })
      .strict()
      .prefault({}),
    http: z
      .object({
        enabled: z.boolean().default(true),
        /** Bind address: 127.0.0.1 keeps the endpoints on the host; 0.0.0.0 (or ::) for a Prometheus or a campaign tool elsewhere. */
        host: z.string().min(1).default('127.0.0.1'),
        port: z.number().int().min(0).max(65_535).default(9464),
        /** /customers/:id/risk answers only requests with `Authorization: Bearer <token>` when a token is set (inline or from a file). /metrics and the probes stay open. */
        customerLookup: z
          .object({ bearerToken: z.string().min(16, 'at least 16 characters').optional(), bearerTokenFile: z.string().min(1).optional() })
          .strict()
          .superRefine((c, ctx) => oneSecret(c, 'bearerToken', false, ctx))
          .prefault({}),
        readiness: z
          .object({
            /** /readyz fails when records wait (lag or in flight) and no batch was acknowledged for this long; an idle engine stays ready. */
            stallAfterMs: z.number().int().min(100).max(3_600_000).default(30_000),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    log: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
    /** This engine among the instances of one consumer group (docs/deployment.md, "Scaling"). */
    instance: z
      .object({
        /**
         * The `instance` label on every churnflow metric and the `instance` field of every log line.
         * Default: the HOSTNAME environment variable (a Kubernetes pod's name), else `<hostname>-<pid>`.
         */
        id: z
          .string()
          .regex(INSTANCE_ID_PATTERN, 'must be 1–128 characters of letters, digits, ".", "_", ":" or "-", starting with a letter or digit')
          .optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (c.source?.kind === 'file' && !c.source.file) {
      ctx.addIssue({ code: 'custom', path: ['source', 'file'], message: "required when source.kind is 'file'" });
    }
    if (c.engine?.batch && c.engine.maxInFlight < 2 * c.engine.batch.maxSize) {
      ctx.addIssue({
        code: 'custom',
        path: ['engine', 'maxInFlight'],
        message: `must be at least twice engine.batch.maxSize (${2 * c.engine.batch.maxSize}), or batches only close on their timer`,
      });
    }
  });

export type ChurnflowConfig = z.infer<typeof configSchema>;
export type ChurnflowConfigInput = z.input<typeof configSchema>;
