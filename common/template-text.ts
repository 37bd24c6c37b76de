/** Template bodies use WhatsApp's numbered placeholders: `Olá {{1}}, seu pedido {{2}} foi enviado.` */

/** How many variables the body needs: the highest placeholder number (placeholders may repeat). */
export function countPlaceholders(body: string): number {
  let highest = 0;
  for (const match of body.matchAll(/\{\{\s*(\d+)\s*\}\}/g)) highest = Math.max(highest, Number(match[1]));
  return highest;
}

export function renderTemplate(body: string, variables: string[]): string {
  return body.replace(/\{\{\s*(\d+)\s*\}\}/g, (whole, n: string) => variables[Number(n) - 1] ?? whole);
}
