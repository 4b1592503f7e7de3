// Every span/event attribute name the product writes or reads, in one place. GenAI names follow the
// OpenTelemetry semantic conventions v1.41.1 (incubating: copied here, as the opentelemetry-js
// README advises, rather than imported). Project attributes live under `llm_sidecar.`.
// The ClickHouse views and the dashboards read these names: rename only together with them.

// --- GenAI (semconv v1.41.1) ---
export const ATTR_GEN_AI_OPERATION_NAME = 'gen_ai.operation.name';
export const ATTR_GEN_AI_PROVIDER_NAME = 'gen_ai.provider.name';
export const ATTR_GEN_AI_REQUEST_MODEL = 'gen_ai.request.model';
export const ATTR_GEN_AI_REQUEST_MAX_TOKENS = 'gen_ai.request.max_tokens';
export const ATTR_GEN_AI_REQUEST_TEMPERATURE = 'gen_ai.request.temperature';
export const ATTR_GEN_AI_REQUEST_TOP_P = 'gen_ai.request.top_p';
export const ATTR_GEN_AI_REQUEST_SEED = 'gen_ai.request.seed';
export const ATTR_GEN_AI_REQUEST_STREAM = 'gen_ai.request.stream';
export const ATTR_GEN_AI_RESPONSE_MODEL = 'gen_ai.response.model';
export const ATTR_GEN_AI_RESPONSE_ID = 'gen_ai.response.id';
export const ATTR_GEN_AI_RESPONSE_FINISH_REASONS = 'gen_ai.response.finish_reasons';
/** Seconds from request start to the first chunk of the answer. */
export const ATTR_GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = 'gen_ai.response.time_to_first_chunk';
/** All input tokens, cached ones included. */
export const ATTR_GEN_AI_USAGE_INPUT_TOKENS = 'gen_ai.usage.input_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = 'gen_ai.usage.cache_read.input_tokens';
export const ATTR_GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = 'gen_ai.usage.cache_creation.input_tokens';
/** All output tokens, reasoning included. */
export const ATTR_GEN_AI_USAGE_OUTPUT_TOKENS = 'gen_ai.usage.output_tokens';
export const ATTR_GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = 'gen_ai.usage.reasoning.output_tokens';
export const ATTR_GEN_AI_INPUT_MESSAGES = 'gen_ai.input.messages';
export const ATTR_GEN_AI_OUTPUT_MESSAGES = 'gen_ai.output.messages';
export const ATTR_GEN_AI_SYSTEM_INSTRUCTIONS = 'gen_ai.system_instructions';
export const ATTR_GEN_AI_TOKEN_TYPE = 'gen_ai.token.type';
export const EVENT_GEN_AI_EVALUATION_RESULT = 'gen_ai.evaluation.result';
export const ATTR_GEN_AI_EVALUATION_NAME = 'gen_ai.evaluation.name';
export const ATTR_GEN_AI_EVALUATION_SCORE_VALUE = 'gen_ai.evaluation.score.value';
export const ATTR_GEN_AI_EVALUATION_SCORE_LABEL = 'gen_ai.evaluation.score.label';
export const ATTR_GEN_AI_EVALUATION_EXPLANATION = 'gen_ai.evaluation.explanation';

// --- General semconv ---
export const ATTR_ERROR_TYPE = 'error.type';
export const ATTR_SERVER_ADDRESS = 'server.address';
export const ATTR_SERVER_PORT = 'server.port';
export const ATTR_HTTP_REQUEST_METHOD = 'http.request.method';
export const ATTR_HTTP_RESPONSE_STATUS_CODE = 'http.response.status_code';
export const ATTR_HTTP_REQUEST_RESEND_COUNT = 'http.request.resend_count';
export const ATTR_HTTP_ROUTE = 'http.route';
export const ATTR_URL_PATH = 'url.path';

// --- llm-sidecar ---
/** Exact decimal USD at list prices; absent when the model has no price (cost unknown). */
export const ATTR_LLM_SIDECAR_COST_USD = 'llm_sidecar.cost.usd';
export const ATTR_LLM_SIDECAR_CACHE_STATUS = 'llm_sidecar.cache.status';
export const ATTR_LLM_SIDECAR_ROUTE = 'llm_sidecar.route';
export const ATTR_LLM_SIDECAR_TENANT = 'llm_sidecar.tenant';
export const ATTR_LLM_SIDECAR_USER = 'llm_sidecar.user';
export const ATTR_LLM_SIDECAR_FEATURE = 'llm_sidecar.feature';
export const ATTR_LLM_SIDECAR_ATTEMPTS = 'llm_sidecar.attempts';
export const ATTR_LLM_SIDECAR_FALLBACK_INDEX = 'llm_sidecar.fallback.index';
export const ATTR_LLM_SIDECAR_OVERHEAD_MS = 'llm_sidecar.overhead_ms';
export const ATTR_LLM_SIDECAR_EVAL_SAMPLED = 'llm_sidecar.eval.sampled';
/** The configured provider name (several providers may share one `gen_ai.provider.name`). */
export const ATTR_LLM_SIDECAR_PROVIDER = 'llm_sidecar.provider';
export const ATTR_LLM_SIDECAR_REQUEST_ID = 'llm_sidecar.request_id';
export const ATTR_LLM_SIDECAR_ERROR_CODE = 'llm_sidecar.error.code';
export const ATTR_LLM_SIDECAR_CACHE_WRITE_1H_TOKENS = 'llm_sidecar.usage.cache_creation_1h.input_tokens';
export const ATTR_LLM_SIDECAR_STREAM_COMPLETED = 'llm_sidecar.stream.completed';
export const ATTR_LLM_SIDECAR_CLIENT_ABORTED = 'llm_sidecar.client_aborted';
export const ATTR_LLM_SIDECAR_ROUTING_STRATEGY = 'llm_sidecar.routing.strategy';
/** Why the chain was ordered as it was (e.g. "cheapest fitting 1200 input tokens: route/0/openai/gpt-4o-mini"). */
export const ATTR_LLM_SIDECAR_ROUTING_DECISION = 'llm_sidecar.routing.decision';
export const EVENT_LLM_SIDECAR_BREAKER_STATE = 'llm_sidecar.breaker.state_change';
export const EVENT_LLM_SIDECAR_BUDGET_ALERT = 'llm_sidecar.budget.alert';
export const ATTR_LLM_SIDECAR_BUDGET_SCOPE = 'llm_sidecar.budget.scope';
export const ATTR_LLM_SIDECAR_BUDGET_KEY = 'llm_sidecar.budget.key';
export const ATTR_LLM_SIDECAR_BUDGET_USED = 'llm_sidecar.budget.used';
export const ATTR_LLM_SIDECAR_BUDGET_LIMIT = 'llm_sidecar.budget.limit';
export const ATTR_LLM_SIDECAR_BUDGET_RATIO = 'llm_sidecar.budget.ratio';
export const ATTR_LLM_SIDECAR_BUDGET_UNIT = 'llm_sidecar.budget.unit';
/** On a cache hit: the cost of the original call, i.e. the spend the hit avoided (exact decimal USD). */
export const ATTR_LLM_SIDECAR_CACHE_SAVED_USD = 'llm_sidecar.cache.saved_usd';
/** On a semantic hit: cosine similarity of the question and the cached question it matched (0..1). */
export const ATTR_LLM_SIDECAR_CACHE_SEMANTIC_SIMILARITY = 'llm_sidecar.cache.semantic.similarity';
/** On a semantic hit: how the two questions differ (same | rephrase | close; proxy/cache/guard.ts). */
export const ATTR_LLM_SIDECAR_CACHE_SEMANTIC_KIND = 'llm_sidecar.cache.semantic.kind';
/** On a semantic hit, only when content capture is on: the cached question it matched, redacted. */
export const ATTR_LLM_SIDECAR_CACHE_SEMANTIC_MATCHED_QUESTION = 'llm_sidecar.cache.semantic.matched_question';
// Span events on the gen_ai CLIENT span (the dashboards read them from otel_traces.Events).
export const EVENT_LLM_SIDECAR_RETRY = 'llm_sidecar.retry';
export const EVENT_LLM_SIDECAR_FALLBACK = 'llm_sidecar.fallback';
export const EVENT_LLM_SIDECAR_TARGET_SKIPPED = 'llm_sidecar.target.skipped';
export const EVENT_LLM_SIDECAR_CASCADE_ESCALATED = 'llm_sidecar.cascade.escalated';
