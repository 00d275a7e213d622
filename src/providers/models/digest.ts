// Ollama digests: the one prefix rule (a pin may be a prefix of the digest Ollama reports).

/** A digest as Ollama reports it (hex, maybe `sha256:`-prefixed) matches a pin that is a prefix of it. */
export function digestMatches(actual: string, pin: string): boolean {
  return actual.toLowerCase().replace(/^sha256:/, '').startsWith(pin.toLowerCase().replace(/^sha256:/, ''));
}
