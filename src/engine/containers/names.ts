// Generated container names, adjective_name as Docker makes them (a shorter list of both).

const LEFT = [
  'admiring', 'amazing', 'bold', 'brave', 'busy', 'calm', 'clever', 'cool', 'dazzling', 'eager', 'ecstatic', 'elegant', 'epic', 'festive',
  'focused', 'friendly', 'gallant', 'gifted', 'happy', 'hopeful', 'jolly', 'keen', 'kind', 'laughing', 'loving', 'lucid', 'modest', 'nice',
  'nifty', 'optimistic', 'peaceful', 'practical', 'quirky', 'relaxed', 'serene', 'sharp', 'stoic', 'tender', 'trusting', 'vibrant', 'wizardly', 'zealous',
];
const RIGHT = [
  'allen', 'babbage', 'bell', 'booth', 'curie', 'darwin', 'dijkstra', 'einstein', 'euler', 'fermat', 'feynman', 'gauss', 'goldberg',
  'hamilton', 'hopper', 'hypatia', 'johnson', 'kepler', 'knuth', 'lamarr', 'lovelace', 'mccarthy', 'meitner', 'newton', 'noether',
  'pascal', 'ritchie', 'shannon', 'thompson', 'torvalds', 'turing', 'wilson', 'wozniak', 'yalow',
];

export function randomName(withNumber = false): string {
  const pick = (a: string[]) => a[Math.floor(Math.random() * a.length)];
  const n = `${pick(LEFT)}_${pick(RIGHT)}`;
  return withNumber ? `${n}${Math.floor(Math.random() * 10)}` : n;
}
