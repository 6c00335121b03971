"""An independent reader and writer of the object stores the tests run (tests/it/object_storage.rs).

Usage: store.py KIND ENDPOINT COMMAND BUCKET [ARGS]

KIND is `s3` (an S3-compatible server: boto3) or `azure` (Azurite: azure-storage-blob), ENDPOINT
its `http://127.0.0.1:PORT`. Commands:

  create BUCKET                  create the bucket or container (if it is not there yet)
  list BUCKET PREFIX             the keys under PREFIX, as a JSON list
  get BUCKET KEY                 the object's bytes on stdout
  put BUCKET KEY TEXT            write TEXT as the object
  delete BUCKET KEY              remove the object
  rows BUCKET KEY                read the object as Parquet with pyarrow: its row count
"""

import io
import json
import os
import sys

# Azurite's well-known development account (documented by Microsoft for the emulator).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


class S3:
    def __init__(self, endpoint):
        import boto3

        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            aws_access_key_id="mittari",
            aws_secret_access_key="mittari",
            region_name="us-east-1",
        )

    def create(self, bucket):
        try:
            self.client.create_bucket(Bucket=bucket)
        except self.client.exceptions.BucketAlreadyOwnedByYou:
            pass

    def list(self, bucket, prefix):
        keys = []
        for page in self.client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix
        ):
            keys += [o["Key"] for o in page.get("Contents", [])]
        return keys

    def get(self, bucket, key):
        return self.client.get_object(Bucket=bucket, Key=key)["Body"].read()

    def put(self, bucket, key, body):
        self.client.put_object(Bucket=bucket, Key=key, Body=body)

    def delete(self, bucket, key):
        self.client.delete_object(Bucket=bucket, Key=key)


class Azure:
    def __init__(self, endpoint):
        from azure.storage.blob import BlobServiceClient

        self.service = BlobServiceClient.from_connection_string(
            "DefaultEndpointsProtocol=http;"
            f"AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint={endpoint}/{AZURITE_ACCOUNT};"
        )

    def create(self, bucket):
        from azure.core.exceptions import ResourceExistsError

        try:
            self.service.create_container(bucket)
        except ResourceExistsError:
            pass

    def list(self, bucket, prefix):
        c = self.service.get_container_client(bucket)
        return [b.name for b in c.list_blobs(name_starts_with=prefix)]

    def get(self, bucket, key):
        return self.service.get_blob_client(bucket, key).download_blob().readall()

    def put(self, bucket, key, body):
        self.service.get_blob_client(bucket, key).upload_blob(body, overwrite=True)

    def delete(self, bucket, key):
        self.service.get_blob_client(bucket, key).delete_blob()


def main():
    kind, endpoint, command, bucket, *args = sys.argv[1:]
    store = (S3 if kind == "s3" else Azure)(endpoint)
    if command == "create":
        store.create(bucket)
    elif command == "list":
        print(json.dumps(sorted(store.list(bucket, args[0]))))
    elif command == "get":
        sys.stdout.buffer.write(store.get(bucket, args[0]))
    elif command == "put":
        store.put(bucket, args[0], args[1].encode())
    elif command == "delete":
        store.delete(bucket, args[0])
    elif command == "rows":
        import pyarrow.parquet as pq

        table = pq.read_table(io.BytesIO(store.get(bucket, args[0])), use_threads=False)
        print(table.num_rows, flush=True)
        # With boto3's and pyarrow's thread pools both alive, the interpreter's teardown
        # sometimes aborts ("terminate called without an active exception") after the answer
        # is out: leave without it.
        os._exit(0)
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
