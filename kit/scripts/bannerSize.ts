import { BANNER_BUDGET_BYTES, bannerSize } from "../src/banner/size.js";

const { raw, gzip } = bannerSize();
process.stdout.write(`banner: ${raw} B, ${gzip} B gzipped (budget ${BANNER_BUDGET_BYTES} B)\n`);
process.exit(gzip <= BANNER_BUDGET_BYTES ? 0 : 1);
