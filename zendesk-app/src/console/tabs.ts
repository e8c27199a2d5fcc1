import { ApprovalsTab } from "./approvals/ApprovalsTab";
import type { ConsoleTab } from "./context";
import { ExplorerTab } from "./ExplorerTab";
import { ct } from "./i18n";
import { OverviewTab } from "./OverviewTab";

/** The console's tabs, in order. Other parts of Steward register theirs here with one line each. */
export const consoleTabs: ConsoleTab[] = [
  { id: "overview", label: () => ct("tab.overview"), component: OverviewTab },
  { id: "explorer", label: () => ct("tab.explorer"), component: ExplorerTab },
  { id: "approvals", label: () => ct("tab.approvals"), component: ApprovalsTab },
];
