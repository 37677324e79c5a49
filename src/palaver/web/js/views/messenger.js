// Messenger (chats, groups, channels). Placeholder until the real view lands.

import { underConstruction } from "./notice.js";

export function render() {
  return underConstruction({ title: "nav.messenger", iconName: "messenger" });
}
