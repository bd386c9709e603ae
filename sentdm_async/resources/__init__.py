"""The API's resources, one module per family, as the official SDK lays them out.

Every method is a thin layer on `resources._base.Resource._call`; paged lists return one
`AsyncPager`. Models live in `sentdm_async.types`.
"""
