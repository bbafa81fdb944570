// Bundles the page into dist/ with fixed names (index.html, app.js, app.css):
// Envoy serves each file from its own route, so the names never carry a hash.
//
//   node build.mjs            one production build
//   node build.mjs --serve    rebuild on change and serve dist/ on :8000 (dev only;
//                             put a config.json with a gatewayUrl into dist/)

import * as esbuild from "esbuild";
import { copyFile, mkdir, stat } from "node:fs/promises";

const here = new URL(".", import.meta.url);
const dist = new URL("dist/", here);
const serve = process.argv.includes("--serve");

/** @type {esbuild.BuildOptions} */
const options = {
  entryPoints: { app: new URL("src/main.ts", here).pathname },
  outdir: dist.pathname,
  bundle: true,
  format: "esm",
  platform: "browser",
  target: ["es2022", "chrome110", "firefox115", "safari16"],
  minify: !serve,
  sourcemap: serve ? "inline" : false,
  legalComments: "none",
  logLevel: "info",
  plugins: [
    {
      name: "index.html",
      setup(build) {
        build.onEnd(async () => {
          await copyFile(new URL("src/index.html", here), new URL("index.html", dist));
        });
      },
    },
  ],
};

await mkdir(dist, { recursive: true });
if (serve) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  const { port } = await ctx.serve({ servedir: dist.pathname, port: 8000, host: "127.0.0.1" });
  console.log(`serving dist/ on http://127.0.0.1:${port}`);
} else {
  await esbuild.build(options);
  for (const name of ["index.html", "app.js", "app.css"]) {
    const { size } = await stat(new URL(name, dist));
    console.log(`dist/${name}  ${(size / 1024).toFixed(1)} KB`);
  }
}
