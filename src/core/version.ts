// The version both commands print (`clusterd --version`, `cluster --version`) and /healthz
// reports. Kept equal to package.json's by a test (version.test.ts), so a release bumps both.
export const clusterdVersion = '0.1.0';
