import "@zendeskgarden/css-bedrock/dist/index.css";
import "@zendeskgarden/css-variables/dist/index.css";
import "@zendeskgarden/css-buttons/dist/index.css";
import "@zendeskgarden/css-forms/dist/index.css";
import "@zendeskgarden/css-tags/dist/index.css";
import "./styles.css";
import { render } from "preact";
import { readSessionFromPage, Session } from "./api/session";
import { renewSession } from "./api/steward";
import { t } from "./i18n";
import { App } from "./views/App";
import { Notice } from "./views/parts";
import { connectToZendesk, fitFrameToContent } from "./zaf/client";

const root = document.getElementById("steward") as HTMLElement;
const zendesk = connectToZendesk();
const grant = readSessionFromPage(document);

if (!zendesk) {
  render(<Notice tone="error">{t("boot.not_in_zendesk")}</Notice>, root);
} else {
  fitFrameToContent(zendesk, root);
  if (!grant) render(<Notice tone="error">{t("boot.no_session")}</Notice>, root);
  else render(<App zendesk={zendesk} session={new Session(grant, renewSession)} />, root);
}
