"""Where the videos live: local folders and Azure Blob behind one Datastore seam, reached through a credential chain.

Modules: base (Datastore protocol, BlobInfo, StorageError), uri (URI forms, DatastoreResolver), local (LocalFolder),
blob (AzureBlob), errors (storage error catalogue), suggest (nearest existing
prefix), access (the credential chain and the AccessReport).
"""
from tasks.datastore.access import AccessOutcome, AccessReport, default_token_credential, open_and_list
from tasks.datastore.base import BlobInfo, Datastore, StorageError
from tasks.datastore.blob import AzureBlob
from tasks.datastore.local import LocalFolder
from tasks.retry import RetryPolicy
from tasks.datastore.suggest import nearest_existing, rank_similar
from tasks.datastore.uri import DatastoreInfo, DatastoreResolver, Location, resolve_location

__all__ = [
    "AccessOutcome", "AccessReport", "AzureBlob", "BlobInfo", "Datastore", "DatastoreInfo", "DatastoreResolver",
    "LocalFolder", "Location", "RetryPolicy", "StorageError", "default_token_credential", "nearest_existing",
    "open_and_list", "rank_similar", "resolve_location",
]
