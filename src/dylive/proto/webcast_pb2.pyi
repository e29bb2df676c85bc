from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class HeadersEntry(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class PushFrame(_message.Message):
    __slots__ = ("seq_id", "log_id", "service", "method", "headers", "payload_encoding", "payload_type", "payload", "log_id_new")
    SEQ_ID_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    SERVICE_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_ENCODING_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_TYPE_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_NEW_FIELD_NUMBER: _ClassVar[int]
    seq_id: int
    log_id: int
    service: int
    method: int
    headers: _containers.RepeatedCompositeFieldContainer[HeadersEntry]
    payload_encoding: str
    payload_type: str
    payload: bytes
    log_id_new: str
    def __init__(self, seq_id: _Optional[int] = ..., log_id: _Optional[int] = ..., service: _Optional[int] = ..., method: _Optional[int] = ..., headers: _Optional[_Iterable[_Union[HeadersEntry, _Mapping]]] = ..., payload_encoding: _Optional[str] = ..., payload_type: _Optional[str] = ..., payload: _Optional[bytes] = ..., log_id_new: _Optional[str] = ...) -> None: ...

class Response(_message.Message):
    __slots__ = ("messages", "cursor", "fetch_interval", "now", "internal_ext", "fetch_type", "route_params", "heartbeat_duration", "need_ack", "push_server", "live_cursor", "history_no_more", "proxy_server", "push_server_v2")
    class RouteParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    FETCH_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    NOW_FIELD_NUMBER: _ClassVar[int]
    INTERNAL_EXT_FIELD_NUMBER: _ClassVar[int]
    FETCH_TYPE_FIELD_NUMBER: _ClassVar[int]
    ROUTE_PARAMS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_DURATION_FIELD_NUMBER: _ClassVar[int]
    NEED_ACK_FIELD_NUMBER: _ClassVar[int]
    PUSH_SERVER_FIELD_NUMBER: _ClassVar[int]
    LIVE_CURSOR_FIELD_NUMBER: _ClassVar[int]
    HISTORY_NO_MORE_FIELD_NUMBER: _ClassVar[int]
    PROXY_SERVER_FIELD_NUMBER: _ClassVar[int]
    PUSH_SERVER_V2_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[Message]
    cursor: str
    fetch_interval: int
    now: int
    internal_ext: str
    fetch_type: int
    route_params: _containers.ScalarMap[str, str]
    heartbeat_duration: int
    need_ack: bool
    push_server: str
    live_cursor: str
    history_no_more: bool
    proxy_server: str
    push_server_v2: str
    def __init__(self, messages: _Optional[_Iterable[_Union[Message, _Mapping]]] = ..., cursor: _Optional[str] = ..., fetch_interval: _Optional[int] = ..., now: _Optional[int] = ..., internal_ext: _Optional[str] = ..., fetch_type: _Optional[int] = ..., route_params: _Optional[_Mapping[str, str]] = ..., heartbeat_duration: _Optional[int] = ..., need_ack: _Optional[bool] = ..., push_server: _Optional[str] = ..., live_cursor: _Optional[str] = ..., history_no_more: _Optional[bool] = ..., proxy_server: _Optional[str] = ..., push_server_v2: _Optional[str] = ...) -> None: ...

class Message(_message.Message):
    __slots__ = ("method", "payload", "msg_id", "msg_type", "offset", "need_wrds_store", "wrds_version", "wrds_sub_key", "message_extra", "tenant_id")
    class MessageExtraEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    METHOD_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    MSG_ID_FIELD_NUMBER: _ClassVar[int]
    MSG_TYPE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    NEED_WRDS_STORE_FIELD_NUMBER: _ClassVar[int]
    WRDS_VERSION_FIELD_NUMBER: _ClassVar[int]
    WRDS_SUB_KEY_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_EXTRA_FIELD_NUMBER: _ClassVar[int]
    TENANT_ID_FIELD_NUMBER: _ClassVar[int]
    method: str
    payload: bytes
    msg_id: int
    msg_type: int
    offset: int
    need_wrds_store: bool
    wrds_version: int
    wrds_sub_key: str
    message_extra: _containers.ScalarMap[str, str]
    tenant_id: str
    def __init__(self, method: _Optional[str] = ..., payload: _Optional[bytes] = ..., msg_id: _Optional[int] = ..., msg_type: _Optional[int] = ..., offset: _Optional[int] = ..., need_wrds_store: _Optional[bool] = ..., wrds_version: _Optional[int] = ..., wrds_sub_key: _Optional[str] = ..., message_extra: _Optional[_Mapping[str, str]] = ..., tenant_id: _Optional[str] = ...) -> None: ...

class Common(_message.Message):
    __slots__ = ("method", "msg_id", "room_id", "create_time", "monitor", "is_show_msg", "describe", "display_text", "fold_type", "anchor_fold_type", "priority_score", "log_id", "msg_process_filter_k", "msg_process_filter_v", "user", "anchor_fold_type_v2", "process_at_sei_time_ms", "random_dispatch_ms", "is_dispatch", "channel_id", "diff_sei2abs_second", "anchor_fold_duration", "app_id")
    METHOD_FIELD_NUMBER: _ClassVar[int]
    MSG_ID_FIELD_NUMBER: _ClassVar[int]
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MONITOR_FIELD_NUMBER: _ClassVar[int]
    IS_SHOW_MSG_FIELD_NUMBER: _ClassVar[int]
    DESCRIBE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_TEXT_FIELD_NUMBER: _ClassVar[int]
    FOLD_TYPE_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FOLD_TYPE_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_SCORE_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    MSG_PROCESS_FILTER_K_FIELD_NUMBER: _ClassVar[int]
    MSG_PROCESS_FILTER_V_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FOLD_TYPE_V2_FIELD_NUMBER: _ClassVar[int]
    PROCESS_AT_SEI_TIME_MS_FIELD_NUMBER: _ClassVar[int]
    RANDOM_DISPATCH_MS_FIELD_NUMBER: _ClassVar[int]
    IS_DISPATCH_FIELD_NUMBER: _ClassVar[int]
    CHANNEL_ID_FIELD_NUMBER: _ClassVar[int]
    DIFF_SEI2ABS_SECOND_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_FOLD_DURATION_FIELD_NUMBER: _ClassVar[int]
    APP_ID_FIELD_NUMBER: _ClassVar[int]
    method: str
    msg_id: int
    room_id: int
    create_time: int
    monitor: int
    is_show_msg: bool
    describe: str
    display_text: Text
    fold_type: int
    anchor_fold_type: int
    priority_score: int
    log_id: str
    msg_process_filter_k: str
    msg_process_filter_v: str
    user: User
    anchor_fold_type_v2: int
    process_at_sei_time_ms: int
    random_dispatch_ms: int
    is_dispatch: bool
    channel_id: int
    diff_sei2abs_second: int
    anchor_fold_duration: int
    app_id: int
    def __init__(self, method: _Optional[str] = ..., msg_id: _Optional[int] = ..., room_id: _Optional[int] = ..., create_time: _Optional[int] = ..., monitor: _Optional[int] = ..., is_show_msg: _Optional[bool] = ..., describe: _Optional[str] = ..., display_text: _Optional[_Union[Text, _Mapping]] = ..., fold_type: _Optional[int] = ..., anchor_fold_type: _Optional[int] = ..., priority_score: _Optional[int] = ..., log_id: _Optional[str] = ..., msg_process_filter_k: _Optional[str] = ..., msg_process_filter_v: _Optional[str] = ..., user: _Optional[_Union[User, _Mapping]] = ..., anchor_fold_type_v2: _Optional[int] = ..., process_at_sei_time_ms: _Optional[int] = ..., random_dispatch_ms: _Optional[int] = ..., is_dispatch: _Optional[bool] = ..., channel_id: _Optional[int] = ..., diff_sei2abs_second: _Optional[int] = ..., anchor_fold_duration: _Optional[int] = ..., app_id: _Optional[int] = ...) -> None: ...

class Image(_message.Message):
    __slots__ = ("url_list", "uri", "height", "width", "avg_color", "image_type", "open_web_url", "content", "is_animated")
    URL_LIST_FIELD_NUMBER: _ClassVar[int]
    URI_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    AVG_COLOR_FIELD_NUMBER: _ClassVar[int]
    IMAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    OPEN_WEB_URL_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    IS_ANIMATED_FIELD_NUMBER: _ClassVar[int]
    url_list: _containers.RepeatedScalarFieldContainer[str]
    uri: str
    height: int
    width: int
    avg_color: str
    image_type: int
    open_web_url: str
    content: ImageContent
    is_animated: bool
    def __init__(self, url_list: _Optional[_Iterable[str]] = ..., uri: _Optional[str] = ..., height: _Optional[int] = ..., width: _Optional[int] = ..., avg_color: _Optional[str] = ..., image_type: _Optional[int] = ..., open_web_url: _Optional[str] = ..., content: _Optional[_Union[ImageContent, _Mapping]] = ..., is_animated: _Optional[bool] = ...) -> None: ...

class ImageContent(_message.Message):
    __slots__ = ("name", "font_color", "level", "alternative_text")
    NAME_FIELD_NUMBER: _ClassVar[int]
    FONT_COLOR_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    ALTERNATIVE_TEXT_FIELD_NUMBER: _ClassVar[int]
    name: str
    font_color: str
    level: int
    alternative_text: str
    def __init__(self, name: _Optional[str] = ..., font_color: _Optional[str] = ..., level: _Optional[int] = ..., alternative_text: _Optional[str] = ...) -> None: ...

class FollowInfo(_message.Message):
    __slots__ = ("following_count", "follower_count", "follow_status", "push_status", "remark_name", "follower_count_str", "following_count_str")
    FOLLOWING_COUNT_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_COUNT_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_STATUS_FIELD_NUMBER: _ClassVar[int]
    PUSH_STATUS_FIELD_NUMBER: _ClassVar[int]
    REMARK_NAME_FIELD_NUMBER: _ClassVar[int]
    FOLLOWER_COUNT_STR_FIELD_NUMBER: _ClassVar[int]
    FOLLOWING_COUNT_STR_FIELD_NUMBER: _ClassVar[int]
    following_count: int
    follower_count: int
    follow_status: int
    push_status: int
    remark_name: str
    follower_count_str: str
    following_count_str: str
    def __init__(self, following_count: _Optional[int] = ..., follower_count: _Optional[int] = ..., follow_status: _Optional[int] = ..., push_status: _Optional[int] = ..., remark_name: _Optional[str] = ..., follower_count_str: _Optional[str] = ..., following_count_str: _Optional[str] = ...) -> None: ...

class PayGrade(_message.Message):
    __slots__ = ("total_diamond_count", "name", "level", "next_diamond", "now_diamond", "this_grade_min_diamond", "this_grade_max_diamond", "grade_describe", "grade_icon_list", "new_im_icon_with_level", "new_live_icon", "score")
    TOTAL_DIAMOND_COUNT_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    NEXT_DIAMOND_FIELD_NUMBER: _ClassVar[int]
    NOW_DIAMOND_FIELD_NUMBER: _ClassVar[int]
    THIS_GRADE_MIN_DIAMOND_FIELD_NUMBER: _ClassVar[int]
    THIS_GRADE_MAX_DIAMOND_FIELD_NUMBER: _ClassVar[int]
    GRADE_DESCRIBE_FIELD_NUMBER: _ClassVar[int]
    GRADE_ICON_LIST_FIELD_NUMBER: _ClassVar[int]
    NEW_IM_ICON_WITH_LEVEL_FIELD_NUMBER: _ClassVar[int]
    NEW_LIVE_ICON_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    total_diamond_count: int
    name: str
    level: int
    next_diamond: int
    now_diamond: int
    this_grade_min_diamond: int
    this_grade_max_diamond: int
    grade_describe: str
    grade_icon_list: _containers.RepeatedCompositeFieldContainer[GradeIcon]
    new_im_icon_with_level: Image
    new_live_icon: Image
    score: int
    def __init__(self, total_diamond_count: _Optional[int] = ..., name: _Optional[str] = ..., level: _Optional[int] = ..., next_diamond: _Optional[int] = ..., now_diamond: _Optional[int] = ..., this_grade_min_diamond: _Optional[int] = ..., this_grade_max_diamond: _Optional[int] = ..., grade_describe: _Optional[str] = ..., grade_icon_list: _Optional[_Iterable[_Union[GradeIcon, _Mapping]]] = ..., new_im_icon_with_level: _Optional[_Union[Image, _Mapping]] = ..., new_live_icon: _Optional[_Union[Image, _Mapping]] = ..., score: _Optional[int] = ...) -> None: ...

class GradeIcon(_message.Message):
    __slots__ = ("icon", "icon_diamond", "level", "level_str")
    ICON_FIELD_NUMBER: _ClassVar[int]
    ICON_DIAMOND_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    LEVEL_STR_FIELD_NUMBER: _ClassVar[int]
    icon: Image
    icon_diamond: int
    level: int
    level_str: str
    def __init__(self, icon: _Optional[_Union[Image, _Mapping]] = ..., icon_diamond: _Optional[int] = ..., level: _Optional[int] = ..., level_str: _Optional[str] = ...) -> None: ...

class FansClubBadge(_message.Message):
    __slots__ = ("icons", "title")
    class IconsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: Image
        def __init__(self, key: _Optional[int] = ..., value: _Optional[_Union[Image, _Mapping]] = ...) -> None: ...
    ICONS_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    icons: _containers.MessageMap[int, Image]
    title: str
    def __init__(self, icons: _Optional[_Mapping[int, Image]] = ..., title: _Optional[str] = ...) -> None: ...

class FansClubData(_message.Message):
    __slots__ = ("club_name", "level", "user_fans_club_status", "badge", "available_gift_ids", "anchor_id")
    CLUB_NAME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    USER_FANS_CLUB_STATUS_FIELD_NUMBER: _ClassVar[int]
    BADGE_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_GIFT_IDS_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_ID_FIELD_NUMBER: _ClassVar[int]
    club_name: str
    level: int
    user_fans_club_status: int
    badge: FansClubBadge
    available_gift_ids: _containers.RepeatedScalarFieldContainer[int]
    anchor_id: int
    def __init__(self, club_name: _Optional[str] = ..., level: _Optional[int] = ..., user_fans_club_status: _Optional[int] = ..., badge: _Optional[_Union[FansClubBadge, _Mapping]] = ..., available_gift_ids: _Optional[_Iterable[int]] = ..., anchor_id: _Optional[int] = ...) -> None: ...

class FansClub(_message.Message):
    __slots__ = ("data", "prefer_data")
    class PreferDataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: FansClubData
        def __init__(self, key: _Optional[int] = ..., value: _Optional[_Union[FansClubData, _Mapping]] = ...) -> None: ...
    DATA_FIELD_NUMBER: _ClassVar[int]
    PREFER_DATA_FIELD_NUMBER: _ClassVar[int]
    data: FansClubData
    prefer_data: _containers.MessageMap[int, FansClubData]
    def __init__(self, data: _Optional[_Union[FansClubData, _Mapping]] = ..., prefer_data: _Optional[_Mapping[int, FansClubData]] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("id", "short_id", "nickname", "gender", "signature", "level", "birthday", "telephone", "avatar_thumb", "avatar_medium", "avatar_large", "verified", "experience", "city", "status", "create_time", "modify_time", "secret", "share_qrcode_uri", "income_share_percent", "badge_image_list", "follow_info", "pay_grade", "fans_club", "special_id", "avatar_border", "medal", "real_time_icons", "new_real_time_icons", "top_vip_no", "user_attr", "pay_score", "ticket_count", "link_mic_stats", "display_id", "sec_uid", "user_role", "authorization_info", "location_city", "mystery_man", "web_rid", "desensitized_nickname", "is_anonymous", "consume_diamond_level", "webcast_uid", "id_str")
    ID_FIELD_NUMBER: _ClassVar[int]
    SHORT_ID_FIELD_NUMBER: _ClassVar[int]
    NICKNAME_FIELD_NUMBER: _ClassVar[int]
    GENDER_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    BIRTHDAY_FIELD_NUMBER: _ClassVar[int]
    TELEPHONE_FIELD_NUMBER: _ClassVar[int]
    AVATAR_THUMB_FIELD_NUMBER: _ClassVar[int]
    AVATAR_MEDIUM_FIELD_NUMBER: _ClassVar[int]
    AVATAR_LARGE_FIELD_NUMBER: _ClassVar[int]
    VERIFIED_FIELD_NUMBER: _ClassVar[int]
    EXPERIENCE_FIELD_NUMBER: _ClassVar[int]
    CITY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    MODIFY_TIME_FIELD_NUMBER: _ClassVar[int]
    SECRET_FIELD_NUMBER: _ClassVar[int]
    SHARE_QRCODE_URI_FIELD_NUMBER: _ClassVar[int]
    INCOME_SHARE_PERCENT_FIELD_NUMBER: _ClassVar[int]
    BADGE_IMAGE_LIST_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_INFO_FIELD_NUMBER: _ClassVar[int]
    PAY_GRADE_FIELD_NUMBER: _ClassVar[int]
    FANS_CLUB_FIELD_NUMBER: _ClassVar[int]
    SPECIAL_ID_FIELD_NUMBER: _ClassVar[int]
    AVATAR_BORDER_FIELD_NUMBER: _ClassVar[int]
    MEDAL_FIELD_NUMBER: _ClassVar[int]
    REAL_TIME_ICONS_FIELD_NUMBER: _ClassVar[int]
    NEW_REAL_TIME_ICONS_FIELD_NUMBER: _ClassVar[int]
    TOP_VIP_NO_FIELD_NUMBER: _ClassVar[int]
    USER_ATTR_FIELD_NUMBER: _ClassVar[int]
    PAY_SCORE_FIELD_NUMBER: _ClassVar[int]
    TICKET_COUNT_FIELD_NUMBER: _ClassVar[int]
    LINK_MIC_STATS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_ID_FIELD_NUMBER: _ClassVar[int]
    SEC_UID_FIELD_NUMBER: _ClassVar[int]
    USER_ROLE_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_INFO_FIELD_NUMBER: _ClassVar[int]
    LOCATION_CITY_FIELD_NUMBER: _ClassVar[int]
    MYSTERY_MAN_FIELD_NUMBER: _ClassVar[int]
    WEB_RID_FIELD_NUMBER: _ClassVar[int]
    DESENSITIZED_NICKNAME_FIELD_NUMBER: _ClassVar[int]
    IS_ANONYMOUS_FIELD_NUMBER: _ClassVar[int]
    CONSUME_DIAMOND_LEVEL_FIELD_NUMBER: _ClassVar[int]
    WEBCAST_UID_FIELD_NUMBER: _ClassVar[int]
    ID_STR_FIELD_NUMBER: _ClassVar[int]
    id: int
    short_id: int
    nickname: str
    gender: int
    signature: str
    level: int
    birthday: int
    telephone: str
    avatar_thumb: Image
    avatar_medium: Image
    avatar_large: Image
    verified: bool
    experience: int
    city: str
    status: int
    create_time: int
    modify_time: int
    secret: int
    share_qrcode_uri: str
    income_share_percent: int
    badge_image_list: _containers.RepeatedCompositeFieldContainer[Image]
    follow_info: FollowInfo
    pay_grade: PayGrade
    fans_club: FansClub
    special_id: str
    avatar_border: Image
    medal: Image
    real_time_icons: _containers.RepeatedCompositeFieldContainer[Image]
    new_real_time_icons: _containers.RepeatedCompositeFieldContainer[Image]
    top_vip_no: int
    user_attr: UserAttr
    pay_score: int
    ticket_count: int
    link_mic_stats: int
    display_id: str
    sec_uid: str
    user_role: int
    authorization_info: int
    location_city: str
    mystery_man: int
    web_rid: str
    desensitized_nickname: str
    is_anonymous: bool
    consume_diamond_level: int
    webcast_uid: str
    id_str: str
    def __init__(self, id: _Optional[int] = ..., short_id: _Optional[int] = ..., nickname: _Optional[str] = ..., gender: _Optional[int] = ..., signature: _Optional[str] = ..., level: _Optional[int] = ..., birthday: _Optional[int] = ..., telephone: _Optional[str] = ..., avatar_thumb: _Optional[_Union[Image, _Mapping]] = ..., avatar_medium: _Optional[_Union[Image, _Mapping]] = ..., avatar_large: _Optional[_Union[Image, _Mapping]] = ..., verified: _Optional[bool] = ..., experience: _Optional[int] = ..., city: _Optional[str] = ..., status: _Optional[int] = ..., create_time: _Optional[int] = ..., modify_time: _Optional[int] = ..., secret: _Optional[int] = ..., share_qrcode_uri: _Optional[str] = ..., income_share_percent: _Optional[int] = ..., badge_image_list: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., follow_info: _Optional[_Union[FollowInfo, _Mapping]] = ..., pay_grade: _Optional[_Union[PayGrade, _Mapping]] = ..., fans_club: _Optional[_Union[FansClub, _Mapping]] = ..., special_id: _Optional[str] = ..., avatar_border: _Optional[_Union[Image, _Mapping]] = ..., medal: _Optional[_Union[Image, _Mapping]] = ..., real_time_icons: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., new_real_time_icons: _Optional[_Iterable[_Union[Image, _Mapping]]] = ..., top_vip_no: _Optional[int] = ..., user_attr: _Optional[_Union[UserAttr, _Mapping]] = ..., pay_score: _Optional[int] = ..., ticket_count: _Optional[int] = ..., link_mic_stats: _Optional[int] = ..., display_id: _Optional[str] = ..., sec_uid: _Optional[str] = ..., user_role: _Optional[int] = ..., authorization_info: _Optional[int] = ..., location_city: _Optional[str] = ..., mystery_man: _Optional[int] = ..., web_rid: _Optional[str] = ..., desensitized_nickname: _Optional[str] = ..., is_anonymous: _Optional[bool] = ..., consume_diamond_level: _Optional[int] = ..., webcast_uid: _Optional[str] = ..., id_str: _Optional[str] = ...) -> None: ...

class UserAttr(_message.Message):
    __slots__ = ("is_muted", "is_admin", "is_super_admin", "admin_privileges")
    IS_MUTED_FIELD_NUMBER: _ClassVar[int]
    IS_ADMIN_FIELD_NUMBER: _ClassVar[int]
    IS_SUPER_ADMIN_FIELD_NUMBER: _ClassVar[int]
    ADMIN_PRIVILEGES_FIELD_NUMBER: _ClassVar[int]
    is_muted: bool
    is_admin: bool
    is_super_admin: bool
    admin_privileges: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, is_muted: _Optional[bool] = ..., is_admin: _Optional[bool] = ..., is_super_admin: _Optional[bool] = ..., admin_privileges: _Optional[_Iterable[int]] = ...) -> None: ...

class TextPieceUser(_message.Message):
    __slots__ = ("user", "with_colon")
    USER_FIELD_NUMBER: _ClassVar[int]
    WITH_COLON_FIELD_NUMBER: _ClassVar[int]
    user: User
    with_colon: bool
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., with_colon: _Optional[bool] = ...) -> None: ...

class TextPieceGift(_message.Message):
    __slots__ = ("gift_id", "name_ref")
    GIFT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_REF_FIELD_NUMBER: _ClassVar[int]
    gift_id: int
    name_ref: str
    def __init__(self, gift_id: _Optional[int] = ..., name_ref: _Optional[str] = ...) -> None: ...

class TextPieceImage(_message.Message):
    __slots__ = ("image", "scaling_rate")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    SCALING_RATE_FIELD_NUMBER: _ClassVar[int]
    image: Image
    scaling_rate: float
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ..., scaling_rate: _Optional[float] = ...) -> None: ...

class TextFormat(_message.Message):
    __slots__ = ("color", "bold", "italic", "weight", "italic_angle", "font_size", "use_heigh_light_color", "use_remote_clor")
    COLOR_FIELD_NUMBER: _ClassVar[int]
    BOLD_FIELD_NUMBER: _ClassVar[int]
    ITALIC_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    ITALIC_ANGLE_FIELD_NUMBER: _ClassVar[int]
    FONT_SIZE_FIELD_NUMBER: _ClassVar[int]
    USE_HEIGH_LIGHT_COLOR_FIELD_NUMBER: _ClassVar[int]
    USE_REMOTE_CLOR_FIELD_NUMBER: _ClassVar[int]
    color: str
    bold: bool
    italic: bool
    weight: int
    italic_angle: int
    font_size: int
    use_heigh_light_color: bool
    use_remote_clor: bool
    def __init__(self, color: _Optional[str] = ..., bold: _Optional[bool] = ..., italic: _Optional[bool] = ..., weight: _Optional[int] = ..., italic_angle: _Optional[int] = ..., font_size: _Optional[int] = ..., use_heigh_light_color: _Optional[bool] = ..., use_remote_clor: _Optional[bool] = ...) -> None: ...

class TextPiece(_message.Message):
    __slots__ = ("type", "format", "string_value", "user_value", "gift_value", "image_value")
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    USER_VALUE_FIELD_NUMBER: _ClassVar[int]
    GIFT_VALUE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_VALUE_FIELD_NUMBER: _ClassVar[int]
    type: int
    format: TextFormat
    string_value: str
    user_value: TextPieceUser
    gift_value: TextPieceGift
    image_value: TextPieceImage
    def __init__(self, type: _Optional[int] = ..., format: _Optional[_Union[TextFormat, _Mapping]] = ..., string_value: _Optional[str] = ..., user_value: _Optional[_Union[TextPieceUser, _Mapping]] = ..., gift_value: _Optional[_Union[TextPieceGift, _Mapping]] = ..., image_value: _Optional[_Union[TextPieceImage, _Mapping]] = ...) -> None: ...

class Text(_message.Message):
    __slots__ = ("key", "default_pattern", "default_format", "pieces")
    KEY_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_PATTERN_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_FORMAT_FIELD_NUMBER: _ClassVar[int]
    PIECES_FIELD_NUMBER: _ClassVar[int]
    key: str
    default_pattern: str
    default_format: TextFormat
    pieces: _containers.RepeatedCompositeFieldContainer[TextPiece]
    def __init__(self, key: _Optional[str] = ..., default_pattern: _Optional[str] = ..., default_format: _Optional[_Union[TextFormat, _Mapping]] = ..., pieces: _Optional[_Iterable[_Union[TextPiece, _Mapping]]] = ...) -> None: ...

class PublicAreaCommon(_message.Message):
    __slots__ = ("user_label", "user_consume_in_room", "user_send_gift_cnt_in_room")
    USER_LABEL_FIELD_NUMBER: _ClassVar[int]
    USER_CONSUME_IN_ROOM_FIELD_NUMBER: _ClassVar[int]
    USER_SEND_GIFT_CNT_IN_ROOM_FIELD_NUMBER: _ClassVar[int]
    user_label: Image
    user_consume_in_room: int
    user_send_gift_cnt_in_room: int
    def __init__(self, user_label: _Optional[_Union[Image, _Mapping]] = ..., user_consume_in_room: _Optional[int] = ..., user_send_gift_cnt_in_room: _Optional[int] = ...) -> None: ...

class ChatMessage(_message.Message):
    __slots__ = ("common", "user", "content", "visible_to_sender", "background_image", "full_screen_text_color", "background_image_v2", "public_area_common", "gift_image", "agree_msg_id", "priority_level", "event_time", "send_review", "from_intercom", "intercom_hide_user_card", "chat_by", "individual_chat_priority", "rtf_content", "rtf_content_v2")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_TO_SENDER_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_IMAGE_FIELD_NUMBER: _ClassVar[int]
    FULL_SCREEN_TEXT_COLOR_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_IMAGE_V2_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_AREA_COMMON_FIELD_NUMBER: _ClassVar[int]
    GIFT_IMAGE_FIELD_NUMBER: _ClassVar[int]
    AGREE_MSG_ID_FIELD_NUMBER: _ClassVar[int]
    PRIORITY_LEVEL_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    SEND_REVIEW_FIELD_NUMBER: _ClassVar[int]
    FROM_INTERCOM_FIELD_NUMBER: _ClassVar[int]
    INTERCOM_HIDE_USER_CARD_FIELD_NUMBER: _ClassVar[int]
    CHAT_BY_FIELD_NUMBER: _ClassVar[int]
    INDIVIDUAL_CHAT_PRIORITY_FIELD_NUMBER: _ClassVar[int]
    RTF_CONTENT_FIELD_NUMBER: _ClassVar[int]
    RTF_CONTENT_V2_FIELD_NUMBER: _ClassVar[int]
    common: Common
    user: User
    content: str
    visible_to_sender: bool
    background_image: Image
    full_screen_text_color: str
    background_image_v2: Image
    public_area_common: PublicAreaCommon
    gift_image: Image
    agree_msg_id: int
    priority_level: int
    event_time: int
    send_review: bool
    from_intercom: bool
    intercom_hide_user_card: bool
    chat_by: int
    individual_chat_priority: int
    rtf_content: Text
    rtf_content_v2: Text
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., user: _Optional[_Union[User, _Mapping]] = ..., content: _Optional[str] = ..., visible_to_sender: _Optional[bool] = ..., background_image: _Optional[_Union[Image, _Mapping]] = ..., full_screen_text_color: _Optional[str] = ..., background_image_v2: _Optional[_Union[Image, _Mapping]] = ..., public_area_common: _Optional[_Union[PublicAreaCommon, _Mapping]] = ..., gift_image: _Optional[_Union[Image, _Mapping]] = ..., agree_msg_id: _Optional[int] = ..., priority_level: _Optional[int] = ..., event_time: _Optional[int] = ..., send_review: _Optional[bool] = ..., from_intercom: _Optional[bool] = ..., intercom_hide_user_card: _Optional[bool] = ..., chat_by: _Optional[int] = ..., individual_chat_priority: _Optional[int] = ..., rtf_content: _Optional[_Union[Text, _Mapping]] = ..., rtf_content_v2: _Optional[_Union[Text, _Mapping]] = ...) -> None: ...

class GiftStruct(_message.Message):
    __slots__ = ("image", "describe", "notify", "duration", "id", "for_linkmic", "doodle", "for_fansclub", "combo", "type", "diamond_count", "is_displayed_on_panel", "primary_effect_id", "gift_label_icon", "name", "region", "manual", "for_custom", "icon", "action_type")
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    DESCRIBE_FIELD_NUMBER: _ClassVar[int]
    NOTIFY_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    FOR_LINKMIC_FIELD_NUMBER: _ClassVar[int]
    DOODLE_FIELD_NUMBER: _ClassVar[int]
    FOR_FANSCLUB_FIELD_NUMBER: _ClassVar[int]
    COMBO_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    DIAMOND_COUNT_FIELD_NUMBER: _ClassVar[int]
    IS_DISPLAYED_ON_PANEL_FIELD_NUMBER: _ClassVar[int]
    PRIMARY_EFFECT_ID_FIELD_NUMBER: _ClassVar[int]
    GIFT_LABEL_ICON_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    REGION_FIELD_NUMBER: _ClassVar[int]
    MANUAL_FIELD_NUMBER: _ClassVar[int]
    FOR_CUSTOM_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    ACTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    image: Image
    describe: str
    notify: bool
    duration: int
    id: int
    for_linkmic: bool
    doodle: bool
    for_fansclub: bool
    combo: bool
    type: int
    diamond_count: int
    is_displayed_on_panel: bool
    primary_effect_id: int
    gift_label_icon: Image
    name: str
    region: str
    manual: str
    for_custom: bool
    icon: Image
    action_type: int
    def __init__(self, image: _Optional[_Union[Image, _Mapping]] = ..., describe: _Optional[str] = ..., notify: _Optional[bool] = ..., duration: _Optional[int] = ..., id: _Optional[int] = ..., for_linkmic: _Optional[bool] = ..., doodle: _Optional[bool] = ..., for_fansclub: _Optional[bool] = ..., combo: _Optional[bool] = ..., type: _Optional[int] = ..., diamond_count: _Optional[int] = ..., is_displayed_on_panel: _Optional[bool] = ..., primary_effect_id: _Optional[int] = ..., gift_label_icon: _Optional[_Union[Image, _Mapping]] = ..., name: _Optional[str] = ..., region: _Optional[str] = ..., manual: _Optional[str] = ..., for_custom: _Optional[bool] = ..., icon: _Optional[_Union[Image, _Mapping]] = ..., action_type: _Optional[int] = ...) -> None: ...

class GiftMessage(_message.Message):
    __slots__ = ("common", "gift_id", "fan_ticket_count", "group_count", "repeat_count", "combo_count", "user", "to_user", "repeat_end", "group_id", "income_taskgifts", "room_fan_ticket_count", "gift", "log_id", "send_type", "public_area_common", "tray_display_text", "banned_display_effects", "display_for_self", "total_count", "client_gift_source", "to_user_ids", "send_time", "trace_id", "effect_display_ts", "count")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    GIFT_ID_FIELD_NUMBER: _ClassVar[int]
    FAN_TICKET_COUNT_FIELD_NUMBER: _ClassVar[int]
    GROUP_COUNT_FIELD_NUMBER: _ClassVar[int]
    REPEAT_COUNT_FIELD_NUMBER: _ClassVar[int]
    COMBO_COUNT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    TO_USER_FIELD_NUMBER: _ClassVar[int]
    REPEAT_END_FIELD_NUMBER: _ClassVar[int]
    GROUP_ID_FIELD_NUMBER: _ClassVar[int]
    INCOME_TASKGIFTS_FIELD_NUMBER: _ClassVar[int]
    ROOM_FAN_TICKET_COUNT_FIELD_NUMBER: _ClassVar[int]
    GIFT_FIELD_NUMBER: _ClassVar[int]
    LOG_ID_FIELD_NUMBER: _ClassVar[int]
    SEND_TYPE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_AREA_COMMON_FIELD_NUMBER: _ClassVar[int]
    TRAY_DISPLAY_TEXT_FIELD_NUMBER: _ClassVar[int]
    BANNED_DISPLAY_EFFECTS_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_FOR_SELF_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    CLIENT_GIFT_SOURCE_FIELD_NUMBER: _ClassVar[int]
    TO_USER_IDS_FIELD_NUMBER: _ClassVar[int]
    SEND_TIME_FIELD_NUMBER: _ClassVar[int]
    TRACE_ID_FIELD_NUMBER: _ClassVar[int]
    EFFECT_DISPLAY_TS_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    common: Common
    gift_id: int
    fan_ticket_count: int
    group_count: int
    repeat_count: int
    combo_count: int
    user: User
    to_user: User
    repeat_end: int
    group_id: int
    income_taskgifts: int
    room_fan_ticket_count: int
    gift: GiftStruct
    log_id: str
    send_type: int
    public_area_common: PublicAreaCommon
    tray_display_text: Text
    banned_display_effects: int
    display_for_self: bool
    total_count: int
    client_gift_source: int
    to_user_ids: _containers.RepeatedScalarFieldContainer[int]
    send_time: int
    trace_id: str
    effect_display_ts: int
    count: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., gift_id: _Optional[int] = ..., fan_ticket_count: _Optional[int] = ..., group_count: _Optional[int] = ..., repeat_count: _Optional[int] = ..., combo_count: _Optional[int] = ..., user: _Optional[_Union[User, _Mapping]] = ..., to_user: _Optional[_Union[User, _Mapping]] = ..., repeat_end: _Optional[int] = ..., group_id: _Optional[int] = ..., income_taskgifts: _Optional[int] = ..., room_fan_ticket_count: _Optional[int] = ..., gift: _Optional[_Union[GiftStruct, _Mapping]] = ..., log_id: _Optional[str] = ..., send_type: _Optional[int] = ..., public_area_common: _Optional[_Union[PublicAreaCommon, _Mapping]] = ..., tray_display_text: _Optional[_Union[Text, _Mapping]] = ..., banned_display_effects: _Optional[int] = ..., display_for_self: _Optional[bool] = ..., total_count: _Optional[int] = ..., client_gift_source: _Optional[int] = ..., to_user_ids: _Optional[_Iterable[int]] = ..., send_time: _Optional[int] = ..., trace_id: _Optional[str] = ..., effect_display_ts: _Optional[int] = ..., count: _Optional[int] = ...) -> None: ...

class LikeMessage(_message.Message):
    __slots__ = ("common", "count", "total", "color", "user", "icon", "linkmic_guest_uid", "scene", "public_area_common")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    COLOR_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    ICON_FIELD_NUMBER: _ClassVar[int]
    LINKMIC_GUEST_UID_FIELD_NUMBER: _ClassVar[int]
    SCENE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_AREA_COMMON_FIELD_NUMBER: _ClassVar[int]
    common: Common
    count: int
    total: int
    color: int
    user: User
    icon: str
    linkmic_guest_uid: int
    scene: str
    public_area_common: PublicAreaCommon
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., count: _Optional[int] = ..., total: _Optional[int] = ..., color: _Optional[int] = ..., user: _Optional[_Union[User, _Mapping]] = ..., icon: _Optional[str] = ..., linkmic_guest_uid: _Optional[int] = ..., scene: _Optional[str] = ..., public_area_common: _Optional[_Union[PublicAreaCommon, _Mapping]] = ...) -> None: ...

class MemberMessage(_message.Message):
    __slots__ = ("common", "user", "member_count", "operator", "is_set_to_admin", "is_top_user", "rank_score", "top_user_no", "enter_type", "action", "action_description", "user_id", "pop_str", "anchor_display_text", "public_area_common", "user_enter_tip_type", "anchor_enter_tip_type")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    MEMBER_COUNT_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FIELD_NUMBER: _ClassVar[int]
    IS_SET_TO_ADMIN_FIELD_NUMBER: _ClassVar[int]
    IS_TOP_USER_FIELD_NUMBER: _ClassVar[int]
    RANK_SCORE_FIELD_NUMBER: _ClassVar[int]
    TOP_USER_NO_FIELD_NUMBER: _ClassVar[int]
    ENTER_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACTION_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    POP_STR_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_DISPLAY_TEXT_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_AREA_COMMON_FIELD_NUMBER: _ClassVar[int]
    USER_ENTER_TIP_TYPE_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_ENTER_TIP_TYPE_FIELD_NUMBER: _ClassVar[int]
    common: Common
    user: User
    member_count: int
    operator: User
    is_set_to_admin: bool
    is_top_user: bool
    rank_score: int
    top_user_no: int
    enter_type: int
    action: int
    action_description: str
    user_id: int
    pop_str: str
    anchor_display_text: Text
    public_area_common: PublicAreaCommon
    user_enter_tip_type: int
    anchor_enter_tip_type: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., user: _Optional[_Union[User, _Mapping]] = ..., member_count: _Optional[int] = ..., operator: _Optional[_Union[User, _Mapping]] = ..., is_set_to_admin: _Optional[bool] = ..., is_top_user: _Optional[bool] = ..., rank_score: _Optional[int] = ..., top_user_no: _Optional[int] = ..., enter_type: _Optional[int] = ..., action: _Optional[int] = ..., action_description: _Optional[str] = ..., user_id: _Optional[int] = ..., pop_str: _Optional[str] = ..., anchor_display_text: _Optional[_Union[Text, _Mapping]] = ..., public_area_common: _Optional[_Union[PublicAreaCommon, _Mapping]] = ..., user_enter_tip_type: _Optional[int] = ..., anchor_enter_tip_type: _Optional[int] = ...) -> None: ...

class SocialMessage(_message.Message):
    __slots__ = ("common", "user", "share_type", "action", "share_target", "follow_count", "public_area_common", "share_total_count")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    SHARE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    SHARE_TARGET_FIELD_NUMBER: _ClassVar[int]
    FOLLOW_COUNT_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_AREA_COMMON_FIELD_NUMBER: _ClassVar[int]
    SHARE_TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    common: Common
    user: User
    share_type: int
    action: int
    share_target: str
    follow_count: int
    public_area_common: PublicAreaCommon
    share_total_count: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., user: _Optional[_Union[User, _Mapping]] = ..., share_type: _Optional[int] = ..., action: _Optional[int] = ..., share_target: _Optional[str] = ..., follow_count: _Optional[int] = ..., public_area_common: _Optional[_Union[PublicAreaCommon, _Mapping]] = ..., share_total_count: _Optional[int] = ...) -> None: ...

class Contributor(_message.Message):
    __slots__ = ("score", "user", "rank", "delta", "is_hidden", "score_description", "exactly_score")
    SCORE_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    RANK_FIELD_NUMBER: _ClassVar[int]
    DELTA_FIELD_NUMBER: _ClassVar[int]
    IS_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    SCORE_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    EXACTLY_SCORE_FIELD_NUMBER: _ClassVar[int]
    score: int
    user: User
    rank: int
    delta: int
    is_hidden: bool
    score_description: str
    exactly_score: str
    def __init__(self, score: _Optional[int] = ..., user: _Optional[_Union[User, _Mapping]] = ..., rank: _Optional[int] = ..., delta: _Optional[int] = ..., is_hidden: _Optional[bool] = ..., score_description: _Optional[str] = ..., exactly_score: _Optional[str] = ...) -> None: ...

class RoomUserSeqMessage(_message.Message):
    __slots__ = ("common", "ranks", "total", "pop_str", "seats", "popularity", "total_user", "total_user_str", "total_str", "online_user_for_anchor", "total_pv_for_anchor", "up_right_stats_str", "up_right_stats_str_complete")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    RANKS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    POP_STR_FIELD_NUMBER: _ClassVar[int]
    SEATS_FIELD_NUMBER: _ClassVar[int]
    POPULARITY_FIELD_NUMBER: _ClassVar[int]
    TOTAL_USER_FIELD_NUMBER: _ClassVar[int]
    TOTAL_USER_STR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_STR_FIELD_NUMBER: _ClassVar[int]
    ONLINE_USER_FOR_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    TOTAL_PV_FOR_ANCHOR_FIELD_NUMBER: _ClassVar[int]
    UP_RIGHT_STATS_STR_FIELD_NUMBER: _ClassVar[int]
    UP_RIGHT_STATS_STR_COMPLETE_FIELD_NUMBER: _ClassVar[int]
    common: Common
    ranks: _containers.RepeatedCompositeFieldContainer[Contributor]
    total: int
    pop_str: str
    seats: _containers.RepeatedCompositeFieldContainer[Contributor]
    popularity: int
    total_user: int
    total_user_str: str
    total_str: str
    online_user_for_anchor: str
    total_pv_for_anchor: str
    up_right_stats_str: str
    up_right_stats_str_complete: str
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., ranks: _Optional[_Iterable[_Union[Contributor, _Mapping]]] = ..., total: _Optional[int] = ..., pop_str: _Optional[str] = ..., seats: _Optional[_Iterable[_Union[Contributor, _Mapping]]] = ..., popularity: _Optional[int] = ..., total_user: _Optional[int] = ..., total_user_str: _Optional[str] = ..., total_str: _Optional[str] = ..., online_user_for_anchor: _Optional[str] = ..., total_pv_for_anchor: _Optional[str] = ..., up_right_stats_str: _Optional[str] = ..., up_right_stats_str_complete: _Optional[str] = ...) -> None: ...

class FansclubMessage(_message.Message):
    __slots__ = ("common", "action", "content", "user", "public_area_common", "left_diamond")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_AREA_COMMON_FIELD_NUMBER: _ClassVar[int]
    LEFT_DIAMOND_FIELD_NUMBER: _ClassVar[int]
    common: Common
    action: int
    content: str
    user: User
    public_area_common: PublicAreaCommon
    left_diamond: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., action: _Optional[int] = ..., content: _Optional[str] = ..., user: _Optional[_Union[User, _Mapping]] = ..., public_area_common: _Optional[_Union[PublicAreaCommon, _Mapping]] = ..., left_diamond: _Optional[int] = ...) -> None: ...

class ControlMessage(_message.Message):
    __slots__ = ("common", "action", "tips", "public_area_common")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    TIPS_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_AREA_COMMON_FIELD_NUMBER: _ClassVar[int]
    common: Common
    action: int
    tips: str
    public_area_common: PublicAreaCommon
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., action: _Optional[int] = ..., tips: _Optional[str] = ..., public_area_common: _Optional[_Union[PublicAreaCommon, _Mapping]] = ...) -> None: ...

class EmojiChatMessage(_message.Message):
    __slots__ = ("common", "user", "emoji_id", "emoji_content", "default_content", "background_image", "from_intercom", "intercom_hide_user_card", "public_area_common")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    EMOJI_ID_FIELD_NUMBER: _ClassVar[int]
    EMOJI_CONTENT_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_CONTENT_FIELD_NUMBER: _ClassVar[int]
    BACKGROUND_IMAGE_FIELD_NUMBER: _ClassVar[int]
    FROM_INTERCOM_FIELD_NUMBER: _ClassVar[int]
    INTERCOM_HIDE_USER_CARD_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_AREA_COMMON_FIELD_NUMBER: _ClassVar[int]
    common: Common
    user: User
    emoji_id: int
    emoji_content: Text
    default_content: str
    background_image: Image
    from_intercom: bool
    intercom_hide_user_card: bool
    public_area_common: PublicAreaCommon
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., user: _Optional[_Union[User, _Mapping]] = ..., emoji_id: _Optional[int] = ..., emoji_content: _Optional[_Union[Text, _Mapping]] = ..., default_content: _Optional[str] = ..., background_image: _Optional[_Union[Image, _Mapping]] = ..., from_intercom: _Optional[bool] = ..., intercom_hide_user_card: _Optional[bool] = ..., public_area_common: _Optional[_Union[PublicAreaCommon, _Mapping]] = ...) -> None: ...

class RoomStatsMessage(_message.Message):
    __slots__ = ("common", "display_short", "display_middle", "display_long", "display_value", "display_version", "incremental", "is_hidden", "total", "display_type")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_SHORT_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_MIDDLE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_LONG_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_VALUE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_VERSION_FIELD_NUMBER: _ClassVar[int]
    INCREMENTAL_FIELD_NUMBER: _ClassVar[int]
    IS_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_TYPE_FIELD_NUMBER: _ClassVar[int]
    common: Common
    display_short: str
    display_middle: str
    display_long: str
    display_value: int
    display_version: int
    incremental: bool
    is_hidden: bool
    total: int
    display_type: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., display_short: _Optional[str] = ..., display_middle: _Optional[str] = ..., display_long: _Optional[str] = ..., display_value: _Optional[int] = ..., display_version: _Optional[int] = ..., incremental: _Optional[bool] = ..., is_hidden: _Optional[bool] = ..., total: _Optional[int] = ..., display_type: _Optional[int] = ...) -> None: ...

class RoomRankItem(_message.Message):
    __slots__ = ("user", "score_str", "profile_hidden")
    USER_FIELD_NUMBER: _ClassVar[int]
    SCORE_STR_FIELD_NUMBER: _ClassVar[int]
    PROFILE_HIDDEN_FIELD_NUMBER: _ClassVar[int]
    user: User
    score_str: str
    profile_hidden: bool
    def __init__(self, user: _Optional[_Union[User, _Mapping]] = ..., score_str: _Optional[str] = ..., profile_hidden: _Optional[bool] = ...) -> None: ...

class RoomRankMessage(_message.Message):
    __slots__ = ("common", "ranks")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    RANKS_FIELD_NUMBER: _ClassVar[int]
    common: Common
    ranks: _containers.RepeatedCompositeFieldContainer[RoomRankItem]
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., ranks: _Optional[_Iterable[_Union[RoomRankItem, _Mapping]]] = ...) -> None: ...

class RoomMessage(_message.Message):
    __slots__ = ("common", "content", "support_landscape", "room_message_type", "system_top_msg", "forced_guarantee", "public_area_common", "biz_scene")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    SUPPORT_LANDSCAPE_FIELD_NUMBER: _ClassVar[int]
    ROOM_MESSAGE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_TOP_MSG_FIELD_NUMBER: _ClassVar[int]
    FORCED_GUARANTEE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_AREA_COMMON_FIELD_NUMBER: _ClassVar[int]
    BIZ_SCENE_FIELD_NUMBER: _ClassVar[int]
    common: Common
    content: str
    support_landscape: bool
    room_message_type: int
    system_top_msg: bool
    forced_guarantee: bool
    public_area_common: PublicAreaCommon
    biz_scene: str
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., content: _Optional[str] = ..., support_landscape: _Optional[bool] = ..., room_message_type: _Optional[int] = ..., system_top_msg: _Optional[bool] = ..., forced_guarantee: _Optional[bool] = ..., public_area_common: _Optional[_Union[PublicAreaCommon, _Mapping]] = ..., biz_scene: _Optional[str] = ...) -> None: ...

class RoomIntroMessage(_message.Message):
    __slots__ = ("common", "user", "style", "intro", "label", "intro_video_item_id", "intro_video_title", "public_area_common", "poi_enabled")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    STYLE_FIELD_NUMBER: _ClassVar[int]
    INTRO_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    INTRO_VIDEO_ITEM_ID_FIELD_NUMBER: _ClassVar[int]
    INTRO_VIDEO_TITLE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_AREA_COMMON_FIELD_NUMBER: _ClassVar[int]
    POI_ENABLED_FIELD_NUMBER: _ClassVar[int]
    common: Common
    user: User
    style: int
    intro: str
    label: _containers.RepeatedScalarFieldContainer[str]
    intro_video_item_id: int
    intro_video_title: str
    public_area_common: PublicAreaCommon
    poi_enabled: bool
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., user: _Optional[_Union[User, _Mapping]] = ..., style: _Optional[int] = ..., intro: _Optional[str] = ..., label: _Optional[_Iterable[str]] = ..., intro_video_item_id: _Optional[int] = ..., intro_video_title: _Optional[str] = ..., public_area_common: _Optional[_Union[PublicAreaCommon, _Mapping]] = ..., poi_enabled: _Optional[bool] = ...) -> None: ...

class UpdateFanTicketMessage(_message.Message):
    __slots__ = ("common", "room_fan_ticket_count_text", "room_fan_ticket_count", "force_update")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    ROOM_FAN_TICKET_COUNT_TEXT_FIELD_NUMBER: _ClassVar[int]
    ROOM_FAN_TICKET_COUNT_FIELD_NUMBER: _ClassVar[int]
    FORCE_UPDATE_FIELD_NUMBER: _ClassVar[int]
    common: Common
    room_fan_ticket_count_text: str
    room_fan_ticket_count: int
    force_update: bool
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., room_fan_ticket_count_text: _Optional[str] = ..., room_fan_ticket_count: _Optional[int] = ..., force_update: _Optional[bool] = ...) -> None: ...

class LiveShoppingMessage(_message.Message):
    __slots__ = ("common", "msg_type", "promotion_id", "updated_product_ids", "update_type", "updated_product_info", "sold_out", "update_timestamp", "logical_clock")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    MSG_TYPE_FIELD_NUMBER: _ClassVar[int]
    PROMOTION_ID_FIELD_NUMBER: _ClassVar[int]
    UPDATED_PRODUCT_IDS_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TYPE_FIELD_NUMBER: _ClassVar[int]
    UPDATED_PRODUCT_INFO_FIELD_NUMBER: _ClassVar[int]
    SOLD_OUT_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    LOGICAL_CLOCK_FIELD_NUMBER: _ClassVar[int]
    common: Common
    msg_type: int
    promotion_id: int
    updated_product_ids: _containers.RepeatedScalarFieldContainer[int]
    update_type: int
    updated_product_info: UpdatedProductInfo
    sold_out: bool
    update_timestamp: int
    logical_clock: int
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., msg_type: _Optional[int] = ..., promotion_id: _Optional[int] = ..., updated_product_ids: _Optional[_Iterable[int]] = ..., update_type: _Optional[int] = ..., updated_product_info: _Optional[_Union[UpdatedProductInfo, _Mapping]] = ..., sold_out: _Optional[bool] = ..., update_timestamp: _Optional[int] = ..., logical_clock: _Optional[int] = ...) -> None: ...

class UpdatedProductInfo(_message.Message):
    __slots__ = ("price", "title", "cover", "status", "pop_upicon")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    TITLE_FIELD_NUMBER: _ClassVar[int]
    COVER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    POP_UPICON_FIELD_NUMBER: _ClassVar[int]
    price: int
    title: str
    cover: str
    status: int
    pop_upicon: str
    def __init__(self, price: _Optional[int] = ..., title: _Optional[str] = ..., cover: _Optional[str] = ..., status: _Optional[int] = ..., pop_upicon: _Optional[str] = ...) -> None: ...

class ProductChangeMessage(_message.Message):
    __slots__ = ("common", "update_timestamp", "update_toast", "update_product_info", "total", "update_category_info")
    COMMON_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TOAST_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PRODUCT_INFO_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_CATEGORY_INFO_FIELD_NUMBER: _ClassVar[int]
    common: Common
    update_timestamp: int
    update_toast: str
    update_product_info: _containers.RepeatedCompositeFieldContainer[ProductInfo]
    total: int
    update_category_info: _containers.RepeatedCompositeFieldContainer[CategoryInfo]
    def __init__(self, common: _Optional[_Union[Common, _Mapping]] = ..., update_timestamp: _Optional[int] = ..., update_toast: _Optional[str] = ..., update_product_info: _Optional[_Iterable[_Union[ProductInfo, _Mapping]]] = ..., total: _Optional[int] = ..., update_category_info: _Optional[_Iterable[_Union[CategoryInfo, _Mapping]]] = ...) -> None: ...

class ProductInfo(_message.Message):
    __slots__ = ("promotion_id", "index", "target_flash_uids", "explain_type")
    PROMOTION_ID_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TARGET_FLASH_UIDS_FIELD_NUMBER: _ClassVar[int]
    EXPLAIN_TYPE_FIELD_NUMBER: _ClassVar[int]
    promotion_id: int
    index: int
    target_flash_uids: _containers.RepeatedScalarFieldContainer[int]
    explain_type: int
    def __init__(self, promotion_id: _Optional[int] = ..., index: _Optional[int] = ..., target_flash_uids: _Optional[_Iterable[int]] = ..., explain_type: _Optional[int] = ...) -> None: ...

class CategoryInfo(_message.Message):
    __slots__ = ("id", "name", "promotion_ids", "type", "unique_index")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    PROMOTION_IDS_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UNIQUE_INDEX_FIELD_NUMBER: _ClassVar[int]
    id: int
    name: str
    promotion_ids: _containers.RepeatedScalarFieldContainer[str]
    type: str
    unique_index: str
    def __init__(self, id: _Optional[int] = ..., name: _Optional[str] = ..., promotion_ids: _Optional[_Iterable[str]] = ..., type: _Optional[str] = ..., unique_index: _Optional[str] = ...) -> None: ...

class HeartbeatMessage(_message.Message):
    __slots__ = ("room_id", "send_packet_seq_id")
    ROOM_ID_FIELD_NUMBER: _ClassVar[int]
    SEND_PACKET_SEQ_ID_FIELD_NUMBER: _ClassVar[int]
    room_id: int
    send_packet_seq_id: int
    def __init__(self, room_id: _Optional[int] = ..., send_packet_seq_id: _Optional[int] = ...) -> None: ...
