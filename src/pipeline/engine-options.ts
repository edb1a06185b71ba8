import { ChorusError } from '../errors.js';
import type { EngineCapabilities, EngineWarning } from '../engine/speech-engine.js';

/**
 * A request's engine knobs checked against what the engine declares: a declared knob with a value of
 * the wrong kind or out of range is refused naming the field; a knob the engine does not declare is
 * dropped with a warning (the request was meant for another engine), as other ignored settings are.
 */
export function checkEngineOptions(
  engineId: string,
  capabilities: EngineCapabilities,
  options: Readonly<Record<string, unknown>> | undefined,
): { options: Record<string, unknown>; warnings: EngineWarning[] } {
  const accepted: Record<string, unknown> = {};
  const warnings: EngineWarning[] = [];
  for (const [name, value] of Object.entries(options ?? {})) {
    if (value === undefined) continue;
    const spec = capabilities.options !== undefined && Object.hasOwn(capabilities.options, name) ? capabilities.options[name] : undefined;
    if (spec === undefined) {
      warnings.push({ setting: name, message: `not used by the ${engineId} engine; ignored` });
      continue;
    }
    const refuse = (expected: string): never => {
      throw new ChorusError({
        code: 'invalid_request',
        param: name,
        message: `'${name}' must be ${expected} for the ${engineId} engine; got ${JSON.stringify(value)}.`,
      });
    };
    if (spec.type === 'number' || spec.type === 'integer') {
      if (typeof value !== 'number' || !Number.isFinite(value) || (spec.type === 'integer' && !Number.isInteger(value)) || value < spec.min || value > spec.max) {
        refuse(`${spec.type === 'integer' ? 'an integer' : 'a number'} from ${spec.min} to ${spec.max}`);
      }
    } else if (spec.type === 'boolean') {
      if (typeof value !== 'boolean') refuse('true or false');
    } else if (typeof value !== 'string' || (spec.values !== undefined && !spec.values.includes(value))) {
      refuse(spec.values === undefined ? 'a string' : `one of ${spec.values.join(', ')}`);
    }
    accepted[name] = value;
  }
  return { options: accepted, warnings };
}
