"""The XCom keys the provider's tasks push besides ``return_value`` (one place: generation operators,
the sensor, the download operator and the extra link read and write the same names)."""

VENDOR_TASK_ID = "vendor_task_id"  # the vendor task id(s), pushed before waiting
FAILURE = "failure"  # the result(s) of failed generations, for a downstream all_done task
UNSUBMITTED = "unsubmitted"  # batch items that have no vendor task id, with the reason
SUMMARY = "summary"  # a batch's counts and usage totals
VIDEO_URL = "video_url"  # the first video's URL, for the Video extra link
