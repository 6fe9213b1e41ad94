/** The page's files (board/ at the package's root), read once: they are the same for every request. */
import fs from 'node:fs';

const cache = new Map<string, string>();

export function boardAsset(name: 'index.html' | 'app.js' | 'board.css' | string): string {
  let text = cache.get(name);
  if (text === undefined) {
    text = fs.readFileSync(new URL(`../../board/${name}`, import.meta.url), 'utf8');
    cache.set(name, text);
  }
  return text;
}
