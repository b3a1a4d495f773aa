package io.mailproxy.testkit.graph;

/**
 * A mail folder. Well-known names are locale-independent aliases of a folder's id (MGDC
 * api-reference/v1.0/resources/mailfolder.md; graph-evidence.md §6).
 *
 * @param parentId null for {@code msgfolderroot}
 */
record GraphFolder(String id, String displayName, String parentId, String wellKnownName) { }
