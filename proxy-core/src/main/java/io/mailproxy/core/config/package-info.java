/**
 * Configuration: HOCON (Typesafe Config) merged over every module's reference.conf, loaded once by
 * {@link io.mailproxy.core.config.ConfigLoader} into immutable, validated records.
 */
package io.mailproxy.core.config;
