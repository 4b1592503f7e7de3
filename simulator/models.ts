// GET /v1/models in either provider's shape: Anthropic's when the request carries
// `anthropic-version` (the Anthropic SDK always does), OpenAI's otherwise. The bodies never change,
// so they are serialised once.
import { anthropicHeaders, openAiHeaders } from './headers.ts';
import { jsonPlan, type Call, type Plan } from './plan.ts';

const OPENAI_BODY = JSON.stringify({
  object: 'list',
  data: [
    { id: 'gpt-4o', object: 'model', created: 1715367049, owned_by: 'system' },
    { id: 'gpt-4o-mini', object: 'model', created: 1721172741, owned_by: 'system' },
    { id: 'o4-mini', object: 'model', created: 1744225351, owned_by: 'system' },
    { id: 'text-embedding-3-small', object: 'model', created: 1705948997, owned_by: 'system' },
  ],
});

const ANTHROPIC_MODELS = [
  { type: 'model', id: 'claude-sonnet-4-6', display_name: 'Claude Sonnet 4.6', created_at: '2026-02-17T00:00:00Z' },
  { type: 'model', id: 'claude-opus-4-6', display_name: 'Claude Opus 4.6', created_at: '2026-02-05T00:00:00Z' },
  { type: 'model', id: 'claude-haiku-4-5', display_name: 'Claude Haiku 4.5', created_at: '2025-10-15T00:00:00Z' },
];

const ANTHROPIC_BODY = JSON.stringify({ data: ANTHROPIC_MODELS, has_more: false, first_id: ANTHROPIC_MODELS[0]?.id, last_id: ANTHROPIC_MODELS.at(-1)?.id });

export function modelsList(call: Call): Plan {
  if (call.headers['anthropic-version'] !== undefined) return jsonPlan(ANTHROPIC_BODY, anthropicHeaders(call.ids));
  return jsonPlan(OPENAI_BODY, openAiHeaders(call.ids));
}
