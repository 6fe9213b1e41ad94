/** The board of an MCP server's process: started by the first `board` call, the same one after, closed with the process. */
import type { Fracta } from '../service.js';
import { startBoard, type Board } from './server.js';

let board: Promise<Board> | undefined;

export async function sharedBoard(fracta: Fracta): Promise<{ url: string; started: boolean }> {
  const started = board === undefined;
  board ??= startBoard(fracta, { home: fracta.home() });
  try {
    return { url: (await board).url, started };
  } catch (error) {
    board = undefined;
    throw error;
  }
}
