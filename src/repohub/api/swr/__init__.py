"""The Huawei SWR dialect (``/v2/manage/...``), signed with AK/SK or authenticated by X-Auth-Token."""
