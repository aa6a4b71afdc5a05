/** The order the layout lists partitions in: each one followed by those inside it (logicals under their extended one). */

interface Contained {
  number: number;
  /** The containing partition's number, or null / 0 for none. */
  parent?: number | null;
  container?: number;
}

const parentOf = (p: Contained): number => p.parent ?? p.container ?? 0;

/** Partitions in table order, each directly followed by the partitions it contains (depth first). */
export function treeOrder<P extends Contained>(partitions: readonly P[]): P[] {
  const numbers = new Set(partitions.map((p) => p.number));
  const children = new Map<number, P[]>();
  for (const p of partitions) {
    const parent = numbers.has(parentOf(p)) ? parentOf(p) : 0;
    children.set(parent, [...(children.get(parent) ?? []), p]);
  }
  const ordered: P[] = [];
  const seen = new Set<P>();
  const visit = (p: P) => {
    if (seen.has(p)) return;
    seen.add(p);
    ordered.push(p);
    for (const child of children.get(p.number) ?? []) visit(child);
  };
  for (const p of children.get(0) ?? []) visit(p);
  // A cycle (a hostile table) leaves some unvisited: they keep their place at the end.
  for (const p of partitions) visit(p);
  return ordered;
}
