// What `up` does to one service, from what exists (the containers with the project's and the
// service's labels) and what the model asks: keep the containers whose config hash and image are
// the same, recreate those that differ (unless --no-recreate; all with --force-recreate), create
// the missing numbers up to the replica count, remove those above it. Pure: no engine calls.

export interface Existing {
  id: string;
  name: string;
  number: number;
  hash: string;
  imageId: string;
}

export interface ServicePlan {
  keep: Existing[];
  recreate: Existing[];
  create: number[];
  remove: Existing[];
}

export interface PlanOptions {
  forceRecreate?: boolean;
  noRecreate?: boolean;
}

export function planService(want: { replicas: number; hash: string; imageId: string }, existing: Existing[], o: PlanOptions = {}): ServicePlan {
  const sorted = [...existing].sort((a, b) => a.number - b.number);
  const plan: ServicePlan = { keep: [], recreate: [], create: [], remove: [] };
  const taken = new Set<number>();
  for (const c of sorted) {
    // Duplicated numbers (a crashed scale) and numbers above the count go.
    if (taken.has(c.number) || taken.size >= want.replicas) {
      plan.remove.push(c);
      continue;
    }
    taken.add(c.number);
    const changed = c.hash !== want.hash || c.imageId !== want.imageId;
    if (o.forceRecreate || (changed && !o.noRecreate)) plan.recreate.push(c);
    else plan.keep.push(c);
  }
  for (let n = 1; taken.size < want.replicas; n++) {
    if (taken.has(n)) continue;
    taken.add(n);
    plan.create.push(n);
  }
  return plan;
}
