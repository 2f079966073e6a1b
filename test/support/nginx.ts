/** A real nginx for the tests (examples/nginx-stack.ts: also used by bench/nginx-reload.ts). */
export { mainConf, nginxBin, startNginx } from '../../examples/nginx-stack';
export type { NginxServer } from '../../examples/nginx-stack';
