// Every header name the sidecar reads or writes of its own, in one place: they are a contract with
// apps (the controls they send, the facts they read back), with the evaluator (its judge traffic is
// marked by the feature header) and with the CLI (it reads the error header). docs/api.md lists them.

/** Prefix of every header of the sidecar's own; such request headers never reach a provider. */
export const SIDECAR_HEADER_PREFIX = 'x-llm-sidecar-';

/** Controls an app may send with a request. */
export const REQUEST_HEADERS = {
  route: 'x-llm-sidecar-route',
  tenant: 'x-llm-sidecar-tenant',
  user: 'x-llm-sidecar-user',
  feature: 'x-llm-sidecar-feature',
  cache: 'x-llm-sidecar-cache',
  /** The app's own request id, adopted as the sidecar's (x-llm-sidecar-request-id) when present. */
  requestId: 'x-request-id',
} as const;

/** What the sidecar tells the app about each answer. */
export const RESPONSE_HEADERS = {
  cache: 'x-llm-sidecar-cache',
  provider: 'x-llm-sidecar-provider',
  model: 'x-llm-sidecar-model',
  attempts: 'x-llm-sidecar-attempts',
  cost: 'x-llm-sidecar-cost-usd',
  overhead: 'x-llm-sidecar-overhead-ms',
  /** The provider's request id when it sent one, else the sidecar's. */
  requestId: 'x-request-id',
  sidecarRequestId: 'x-llm-sidecar-request-id',
  /** Marks every error the sidecar produced itself (its stable code), so none is taken for a provider's. */
  error: 'x-llm-sidecar-error',
} as const;
