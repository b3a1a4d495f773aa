/** mailproxy core: what every frontend shares (config, runtime, TLS, upstream connector, pool, credentials). */
package io.mailproxy.core;
