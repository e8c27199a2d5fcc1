/**
 * What the demo product shows a customer: projects, members, settings and billing, made up
 * deterministically from the account (the product-directory work later gives it a store of its own).
 */
export interface Project {
  id: string;
  name: string;
  updated: string;
}

function seedOf(text: string): number {
  let h = 2166136261;
  for (const c of text) h = Math.imul(h ^ c.charCodeAt(0), 16777619);
  return h >>> 0;
}

const WORDS = ["Roadmap", "Website", "Onboarding", "Billing revamp", "Mobile app", "Data import", "Q3 launch", "Help center", "Partner portal", "Analytics"];
const PEOPLE = ["Ana Almeida", "Ben Brandt", "Chloé Costa", "Dmitri Dubois", "Eva Eriksen", "Farah Fischer", "Hiro Ito", "Lena Larsen"];

export function projectsOf(accountId: string): Project[] {
  const seed = seedOf(accountId);
  return Array.from({ length: 3 + (seed % 4) }, (_, i) => ({ id: `p${i + 1}`, name: WORDS[(seed + i * 3) % WORDS.length] as string, updated: `${1 + ((seed >>> i) % 27)} days ago` }));
}

export function membersOf(accountId: string, customer: { name: string; email: string }): { name: string; role: string }[] {
  const seed = seedOf(accountId);
  return [{ name: customer.name, role: "you" }, ...Array.from({ length: 2 + (seed % 3) }, (_, i) => ({ name: PEOPLE[(seed + i) % PEOPLE.length] as string, role: i === 0 ? "admin" : "member" }))];
}

export function planOf(accountId: string): { plan: string; seats: number; card: string } {
  const seed = seedOf(accountId);
  return { plan: ["Starter", "Team", "Business"][seed % 3] as string, seats: 3 + (seed % 20), card: `Visa ending ${String(1000 + (seed % 9000))}` };
}
