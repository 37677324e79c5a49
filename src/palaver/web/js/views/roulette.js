// Roulette (random 1:1 video chat). Placeholder until the real view lands.

import { underConstruction } from "./notice.js";

export function render() {
  return underConstruction({ title: "nav.roulette", iconName: "roulette" });
}
