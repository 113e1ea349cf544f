"""AWS: deploying the generic Glue job, the Glue Data Catalog, and S3 for reports and configs."""
