export interface PacketOptions { manifestPath: string; home: import('../core/home.js').Home; env: NodeJS.ProcessEnv; task?: string; fromLastFailure: boolean; outDir?: string; profile?: string }
export async function writePacket(_o: PacketOptions): Promise<{ dir: string; archive: string; summary: string }> {
  throw new Error('not yet');
}
