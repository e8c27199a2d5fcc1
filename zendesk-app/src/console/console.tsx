import "@zendeskgarden/css-bedrock/dist/index.css";
import "@zendeskgarden/css-variables/dist/index.css";
import "@zendeskgarden/css-buttons/dist/index.css";
import "@zendeskgarden/css-forms/dist/index.css";
import "@zendeskgarden/css-tags/dist/index.css";
import "./console.css";
import { render } from "preact";
import { readSessionFromPage, Session } from "../api/session";
import { renewSession } from "../api/steward";
import { ConsoleApp } from "./ConsoleApp";
import { connectConsole } from "./host";
import { chooseConsoleLocale, ct } from "./i18n";

const root = document.getElementById("steward-console") as HTMLElement;
const host = connectConsole();
const grant = readSessionFromPage(document);

async function start(): Promise<void> {
  if (!host) return render(<p role="alert">{ct("boot.not_in_zendesk")}</p>, root);
  if (!grant) return render(<p role="alert">{ct("boot.no_session")}</p>, root);
  const agent = await host.readAgent().catch(() => ({ locale: "en", timeZone: "UTC" }));
  await chooseConsoleLocale(agent.locale);
  render(<ConsoleApp host={host} session={new Session(grant, renewSession)} agent={agent} />, root);
}

void start();
