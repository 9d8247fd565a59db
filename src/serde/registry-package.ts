// Loads @confluentinc/schemaregistry through its public index, once, on first use. The index also
// loads every KMS SDK it supports (AWS, Azure, GCP, Vault): ≈1 s against ≈0.2 s for the client files
// alone on the development machine. Every CLI command imports the registry client, most never talk
// to a registry, so none of them pays for the package until one does.
export type RegistryPackage = typeof import('@confluentinc/schemaregistry');

let loading: Promise<RegistryPackage> | undefined;

export function loadRegistryPackage(): Promise<RegistryPackage> {
  loading ??= import('@confluentinc/schemaregistry');
  return loading;
}
