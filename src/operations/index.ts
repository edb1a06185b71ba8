import type { ChorusConfig } from '../config/config.js';
import { createChatterboxProfile } from './chatterbox.js';
import type { EndpointProfile } from './endpoint-profile.js';

/** Endpoint profiles by kind. An endpoint id is bound to one kind by CHORUS_ENDPOINTS. */
const PROFILE_FACTORIES: Readonly<Record<string, (config: ChorusConfig) => EndpointProfile>> = {
  chatterbox: (config) => createChatterboxProfile({ maxCharsPerChunk: config.maxCharsPerChunk }),
};

export const PROFILE_KINDS: readonly string[] = Object.keys(PROFILE_FACTORIES);

/** Builds the endpoint id → profile map from `config.endpoints` (`id=kind` pairs). */
export function createProfiles(config: ChorusConfig): Map<string, EndpointProfile> {
  const profiles = new Map<string, EndpointProfile>();
  const bindings = Object.keys(config.endpoints).length > 0 ? config.endpoints : Object.fromEntries(PROFILE_KINDS.map((kind) => [kind, kind]));
  for (const [endpointId, kind] of Object.entries(bindings)) {
    const factory = PROFILE_FACTORIES[kind];
    if (factory === undefined) {
      throw new Error(`Endpoint '${endpointId}' names unknown profile '${kind}'; known profiles: ${PROFILE_KINDS.join(', ')}.`);
    }
    profiles.set(endpointId, factory(config));
  }
  return profiles;
}
