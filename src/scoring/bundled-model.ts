// The model shipped in this repository: the registry root and model name the engine's config defaults
// to, and the bundle its production alias points at (models/churn-gbdt/aliases.json; a unit test
// keeps the two in step). Tests and benchmarks that need "the real model" use BUNDLED_MODEL.
export const BUNDLED_REGISTRY_DIR = 'models';
export const BUNDLED_MODEL_NAME = 'churn-gbdt';
export const BUNDLED_MODEL_VERSION = '1.1.0';
export const BUNDLED_MODEL = `${BUNDLED_REGISTRY_DIR}/${BUNDLED_MODEL_NAME}/${BUNDLED_MODEL_VERSION}`;
