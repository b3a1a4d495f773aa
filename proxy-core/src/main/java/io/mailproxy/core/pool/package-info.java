/** Pools of authenticated upstream connections per account and protocol (DESIGN rule 4). */
package io.mailproxy.core.pool;
