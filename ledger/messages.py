"""The message catalogue: every sentence an error can say to staff, in zh-CN and English.

Each entry is ``code: Message(zh, en)``; ``{name}`` placeholders are filled from the parameters given
where the error is raised (see :mod:`ledger.errors` for the tree and how to add an error)::

    >>> render("case_not_found", {"serial": "TB20261201-001-00001"}, "zh")
    '本大厅没有办件 TB20261201-001-00001，请核对办件编号。'

Rules for the sentences: staff are not engineers — say what is wrong and what to do, in the words of the
counter (材料, 办件, 受理), never an exception name, a route, a byte count without its unit, or a header.
A placeholder may appear in one language only (the English may name a detail the Chinese leaves out).
This module imports nothing of ``ledger`` (every layer may use it).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MESSAGES",
    "ROLE_NAMES_ZH",
    "ZH_LATIN_ALLOWED",
    "Message",
    "Param",
    "foreign_words",
    "placeholders",
    "render",
    "role_names_zh",
]

Param = str | int | float | bool | None


@dataclass(frozen=True)
class Message:
    zh: str
    en: str


M = Message

MESSAGES: dict[str, Message] = {
    # ---------------------------------------------------------------- kinds (the default sentence of each class)
    "internal_error": M(
        "系统内部出错，已保存的内容不会丢失。", "Something went wrong inside the system; nothing saved is lost."
    ),
    "invalid_input": M("填写的内容有误，请按提示修改。", "Something entered is not right; correct it as shown."),
    "several_problems": M("有 {count} 处需要修改，请按各项提示修改。", "{count} things need correcting; see each one."),
    "not_found": M("没有找到该记录。", "Not found."),
    "conflict": M("办件当前的状态不允许此操作。", "The case's current state does not allow this."),
    "unauthenticated": M("登录已失效，请重新登录。", "You are not signed in; sign in again."),
    "rate_limited": M(
        "登录失败次数过多，请 {retry_after} 秒后再试。", "Too many failed sign-ins; try again in {retry_after} seconds."
    ),
    "forbidden": M("您的账号没有执行此操作的权限。", "Your account may not do this."),
    "csrf_failed": M("页面已过期，请刷新页面后重试。", "The page is out of date; reload it and try again."),
    "peer_unauthenticated": M(
        "请求不是由已登记大厅的密钥签名的。", "The request is not signed by a registered hall key."
    ),
    "peer_forbidden": M("该大厅无权获取此内容。", "That hall may not have this."),
    "config_error": M(
        "节点配置有误，请联系系统管理员。", "The node is not configured correctly; call the system administrator."
    ),
    "store_error": M(
        "本大厅的数据存储暂时无法读写，请联系系统管理员。",
        "The hall's store cannot be read or written; call the system administrator.",
    ),
    "chain_error": M(
        "区块链节点未能完成请求，请稍后重试。", "The chain node could not complete the request; try again shortly."
    ),
    "chain_unavailable": M(
        "暂时连接不上区块链节点；已保存的内容不会丢失，请稍后重试。",
        "The chain node cannot be reached right now; nothing saved is lost. Try again shortly.",
    ),
    "chain_rule": M("区块链规则不允许此操作（{rule}）。", "The chain's rules do not allow this ({rule})."),
    "transfer_error": M(
        "暂时未能从对方大厅取得办件材料，系统会自动重试。",
        "The package could not be fetched from the other hall yet; it is retried.",
    ),
    "verification_failed": M("与链上记录不一致。", "This does not match what the chain records."),
    "case_held": M(
        "该办件的受理事件被链上拒绝（编号与链上已有办件冲突），已暂停；请受理窗口人员为其重新编号。",
        "Case {serial} is held: the chain refused its INTAKE ({rule}); a counter clerk reissues it under a new serial.",
    ),
    "store_damaged": M(
        "本厅数据存储损坏或缺失，暂停服务；请联系系统管理员按运维手册从备份恢复或从其他大厅重新获取。",
        "This hall's store is damaged or missing; call the system administrator (restore or recover, see operations).",
    ),
    "storage_full": M(
        "本厅存储空间已满，新的办件和操作暂时无法保存（已保存的办件可照常查看）；请联系系统管理员清理磁盘，空间恢复后自动继续。",
        "This hall's disk is full: nothing new can be saved (saved cases can still be read); "
        "call the system administrator to free space, work resumes by itself.",
    ),
    "unavailable": M(
        "本大厅暂时无法办理此操作，请稍后再试。", "The hall cannot take this right now; try again shortly."
    ),
    "clock_skew_hold": M(
        "本厅服务器时钟与链上时间相差约 {skew} 秒，为保证记录时间准确，暂停受理、办理和上链；"
        "请联系系统管理员校准时钟。",
        "This hall's clock is {skew} s off the chain's time (bound {bound} s); new records would carry a wrong time, "
        "so writes and anchoring are held until the clock is corrected.",
    ),
    "serial_check": M(
        "本厅正在与链上记录核对办件编号，请稍候。",
        "This hall is checking its case serial numbers against the chain after a restore; try again shortly.",
    ),
    "serial_check_batches": M(
        "本厅恢复备份后，正在与链上记录核对办件编号，并从其他大厅取回本厅已上链的批次，请稍候。",
        "After a restore this hall is checking its case serial numbers against the chain and fetching back "
        "its own batches on chain from the other halls; try again shortly.",
    ),
    # ---------------------------------------------------------------- requests (the API's own checks)
    "request_invalid": M("请求内容不符合要求。", "The request is not in the expected form."),
    "required": M("此项必须填写。", "This is required."),
    "too_long": M("最多 {max} 个字符。", "At most {max} characters."),
    "too_long_given": M("最多 {max} 个字符（现为 {given} 个）。", "At most {max} characters ({given} given)."),
    "text_invisible_character": M(
        "含有不可见字符或控制字符（{char}），请重新输入。",
        "Contains an invisible or control character ({char}); retype it.",
    ),
    "text_control_character": M(
        "含有控制字符或文字方向控制符（{char}），请删除后重新输入。",
        "Contains a control or text-direction character ({char}); remove it.",
    ),
    "personal_data_withheld": M(
        "您的角色不能查看申请人的个人信息。", "Your role does not see applicants' personal data."
    ),
    "too_short": M("至少 {min} 个字符。", "At least {min} characters."),
    "too_many_items": M("最多 {max} 项。", "At most {max} items."),
    "not_a_whole_number": M("必须是整数。", "Must be a whole number."),
    "not_true_or_false": M("必须选择“是”或“否”。", "Must be yes or no."),
    "not_text": M("必须是文字。", "Must be text."),
    "out_of_range": M("数值超出允许范围。", "The number is out of range."),
    "not_a_json_object": M(
        "请求内容不是本接口要求的格式。", "The request body is not the JSON object this call takes."
    ),
    "not_multipart": M("请以表单（含附件）方式提交。", "Send the form as multipart/form-data."),
    "form_unreadable": M("表单内容无法读取，请重新提交。", "The form could not be read ({reason}); send it again."),
    "no_such_page": M("没有这个页面或接口。", "There is no such page or API route."),
    "method_not_allowed": M("此页面或接口不支持这种操作。", "This route does not take that method."),
    "body_too_large": M("提交的内容超过 {max_mb} MB 的上限。", "The request is larger than the {max_mb} MB limit."),
    "json_too_deep": M(
        "提交的内容嵌套 {depth} 层，最多接受 {max} 层。",
        "The JSON body nests {depth} levels deep; at most {max} are accepted.",
    ),
    "unknown_lang": M("语言只能是中文（zh）或英文（en）。", "The language is zh or en."),
    "metrics_disabled": M(
        "本节点未开启运行指标。", "Metrics are switched off on this node (CASELEDGER_METRICS_ENABLED=false)."
    ),
    "audit_scanner_off": M("本节点未运行监管扫描。", "The audit scanner is not running on this node."),
    "no_deployment": M(
        "本节点未加载区块链合约部署信息，请联系系统管理员。",
        "No contract deployment is loaded on this node; call the system administrator.",
    ),
    "date_range_reversed": M("结束日期早于开始日期。", "The end of the date range is before its start."),
    "date_invalid": M("日期格式不对，请按 2026-12-02 的格式填写。", "Not a date: write it as 2026-12-02."),
    # ---------------------------------------------------------------- sign-in, sessions, roles
    "session_required": M("请先登录。", "Sign in first."),
    "session_unknown": M("登录已失效，请重新登录。", "Not signed in (unknown or ended session); sign in again."),
    "session_expired": M("登录已超时，请重新登录。", "The session has expired; sign in again."),
    "account_disabled": M(
        "该账号已停用，请联系安全管理员。", "This account is disabled; call the security administrator."
    ),
    "login_failed": M("用户名或密码不正确。", "The username or password is not right."),
    "totp_required": M(
        "请填写身份验证器上的6位动态口令。", "Enter the 6-digit one-time code from your authenticator app."
    ),
    "totp_wrong": M(
        "动态口令不正确或已过期，请输入身份验证器上最新的口令。",
        "The one-time code is wrong or expired; enter the current one.",
    ),
    "too_many_sign_ins": M(
        "该账号在本机登录失败次数过多，请 {retry_after} 秒后再试。",
        "Too many failed sign-ins for this account from this client; try again in {retry_after} seconds.",
    ),
    "role_required": M(
        "此操作需要“{roles_zh}”角色，您的账号没有。", "This needs the role {roles}; your account does not have it."
    ),
    "account_not_found": M("本大厅没有账号 {username}。", "There is no staff account {username} at this hall."),
    "account_exists": M("账号 {username} 已存在。", "An account {username} already exists."),
    "username_invalid": M(
        "用户名只能由小写字母、数字、点、下划线或连字符组成（2–32位）。",
        "A username is 2–32 lowercase letters, digits, '.', '_' or '-'.",
    ),
    "roles_required": M("请至少选择一个角色。", "Give at least one role."),
    "roles_unknown": M("有不存在的角色：{roles}。", "Unknown roles {roles}; roles are {known}."),
    "password_current_wrong": M("当前密码不正确。", "The current password is not right."),
    "password_unchanged": M("新密码不能与当前密码相同。", "The new password must differ from the current one."),
    "password_too_short": M("密码至少 {min} 位。", "The password has at least {min} characters."),
    "no_second_factor": M(
        "账号 {username} 的角色不需要动态口令。", "{username} has no role that uses a second factor."
    ),
    "case_other_district": M(
        "办件 {serial} 属于其他区县，本大厅的承办人员只能办理本区县的办件。",
        "Case {serial} belongs to district {district}; officers of this hall act only on district {own}'s cases.",
    ),
    "case_other_hall": M(
        "办件 {serial} 不是在本大厅受理的，只能由受理大厅办理此步骤。",
        "Case {serial} was accepted at hall {hall}, not at this hall; only the accepting hall does this step.",
    ),
    # ---------------------------------------------------------------- peer halls
    "peer_signature_missing": M(
        "请求缺少大厅签名。", "The request is not signed by a hall key (signature headers missing)."
    ),
    "peer_timestamp_invalid": M("请求时间格式不正确。", "The request timestamp is not a number."),
    "peer_clock_skew": M(
        "请求时间与本大厅时钟相差超过 {window} 秒。",
        "The request timestamp is more than {window}s away from this hall's clock.",
    ),
    "peer_wrong_target": M(
        "请求是签给另一个大厅的。", "The request was signed for hall {target}, not for this hall ({hall})."
    ),
    "peer_nonce_invalid": M(
        "请求随机数应为16到64个字母、数字、“-”或“_”。",
        "The request nonce must be 16 to 64 letters, digits, '-' or '_'.",
    ),
    "peer_signature_invalid": M("请求签名无效。", "The request signature is not valid."),
    "peer_not_registered": M("{address} 不是已登记的大厅密钥。", "{address} is not a registered hall key."),
    "peer_hall_inactive": M("大厅 {hall} 当前状态为{status}，不能获取。", "Hall {hall} ({name}) is {status}."),
    "peer_replayed": M("该请求已经使用过（重放）。", "This request was already used (replayed nonce)."),
    "peer_no_right": M("大厅 {hall} 无权获取办件 {serial}。", "Hall {hall} has no right to case {serial}."),
    # ---------------------------------------------------------------- catalogue and districts
    "unknown_item": M(
        "没有编码为 {code} 的事项，请从列表中选择。", "There is no service item {code}; pick one from the list."
    ),
    "not_a_district_code": M(
        "“{code}”不是区县代码，请从列表中选择。", "{code} is not a district code; pick one from the list."
    ),
    "district_not_in_city": M("{code} 不是{city_zh}的区县。", "{code} is not a county-level district of {city_en}."),
    "district_has_no_hall": M(
        "{district_zh}还没有接入本系统的办事大厅，不能通办到该区县；请告知申请人到{district_zh}办理。",
        "{district_en} has no connected hall yet, so cases cannot be sent there; the applicant applies there.",
    ),
    # ---------------------------------------------------------------- applicants and ID documents
    "applicant_name_required": M(
        "请填写申请人姓名（最多64个字）。", "Enter the applicant's name (at most 64 characters)."
    ),
    "applicant_type_unknown": M("申请人类型只能是自然人或法人。", "The applicant is a natural or a legal person."),
    "id_type_unknown": M("请选择证件类型。", "Choose the type of ID document."),
    "id_number_required": M("请填写证件号码。", "Enter the ID number."),
    "id_resident_format": M(
        "身份号码应为18位：17位数字加1位校验码（数字或X）。",
        "A resident ID number has 17 digits and a check character (digit or X).",
    ),
    "id_check_character": M(
        "身份号码的校验码不对，请逐位核对证件号码。",
        "The check character does not match: re-check the ID number digit by digit.",
    ),
    "id_birth_date": M(
        "身份号码中的出生日期不是有效日期，请核对。", "The birth date inside the ID number is not a real date."
    ),
    "id_residence_permit_region": M(
        "港澳台居民居住证号码应以 810000（香港）、820000（澳门）或 830000（台湾）开头。",
        "A residence-permit number starts with 810000 (Hong Kong), 820000 (Macao) or 830000 (Taiwan).",
    ),
    "id_foreigner_format": M(
        "外国人永久居留身份证号码应为15位（旧版：3位国籍字母加12位数字）或18位（2023版：以9开头）。",
        "A permanent residence ID is 15 characters (old: 3 letters, 12 digits) or 18 (2023 card: starts with 9).",
    ),
    "id_foreigner_check": M(
        "外国人永久居留身份证号码的校验位不对，请逐位核对。",
        "The check digit of the permanent residence ID does not match; re-check it.",
    ),
    "id_passport_format": M(
        "护照号码应为5至17位字母或数字（中国护照：E或G开头加8位）。",
        "A passport number is 5 to 17 letters or digits (Chinese passports: E or G and 8 more).",
    ),
    "id_hk_macao_permit_format": M(
        "港澳居民来往内地通行证号码应为H或M开头加8位数字（可带2位换证次数）。",
        "A Home Return Permit number is H or M followed by 8 digits (and optionally the 2-digit issue count).",
    ),
    "credit_code_format": M(
        "统一社会信用代码应为18位：数字或大写字母（不含I、O、Z、S、V）。",
        "A unified social credit code has 18 digits or capital letters (no I, O, Z, S, V).",
    ),
    "credit_code_check": M(
        "统一社会信用代码的校验码不对，请逐位核对。", "The check character of the credit code does not match."
    ),
    "organisation_name_required": M(
        "请填写单位名称（最多100个字）。", "Enter the organisation's name (at most 100 characters)."
    ),
    "legal_rep_required": M("请填写法定代表人姓名。", "Enter the legal representative's name."),
    "agent_name_required": M("请填写代理人姓名。", "Enter the agent's name."),
    "phone_format": M(
        "联系电话应为11位手机号码，或区号加座机号码。",
        "A phone number is an 11-digit mobile number or an area code and number.",
    ),
    "address_too_long": M("地址最多200个字。", "An address has at most 200 characters."),
    "property_district_required": M("请选择不动产所在区县。", "Choose the district where the property is."),
    # ---------------------------------------------------------------- materials and files
    "material_missing": M("缺少必备材料：{material_zh}。", "Required material missing: {material_en}."),
    "material_not_of_item": M("“{kind}”不是本事项的材料。", "{kind} is not a material of {item}."),
    "material_file_empty": M("文件“{name}”是空的，请重新扫描。", "The file {name} is empty; scan it again."),
    "material_file_too_large": M(
        "文件“{name}”有 {size_mb} MB，超过每个文件 {max_mb} MB 的上限，请压缩或分页扫描。",
        "The file {name} is {size_mb} MB; the limit is {max_mb} MB per file. Compress it or scan fewer pages per file.",
    ),
    "file_name_invalid": M("文件名最多 {max} 个字符。", "Every file needs a name of at most {max} characters."),
    "file_name_control": M(
        "文件名含有不可见的控制字符，请改名后再上传。", "The file name contains NUL or control characters."
    ),
    "file_name_path": M(
        "文件名不能含有路径（/、\\ 或 ..）。", "The file name must not contain a path ('/', '\\' or '..')."
    ),
    "file_type_not_allowed": M(
        "文件“{name}”的类型不能上传，只接受 PDF、JPG、PNG 或 OFD 文件。",
        "The file {name} cannot be uploaded: only PDF, JPG, PNG or OFD files are accepted.",
    ),
    "file_type_mismatch": M(
        "文件“{name}”的类型与扩展名 .{ext} 不符，请重新导出或扫描。",
        "The file {name} is declared as {declared}, which does not match .{ext}.",
    ),
    "file_content_mismatch": M(
        "文件“{name}”的内容不是 .{ext} 文件，请重新导出或扫描。",
        "The file {name} does not look like a .{ext} file (its content starts differently).",
    ),
    "too_many_files": M("一次最多上传 {max} 个文件。", "{count} files in one request; the limit is {max}."),
    "too_many_pages": M("每种材料最多 {max} 个文件（页）。", "At most {max} files (pages) per material."),
    "upload_at_least_one": M("请至少上传一个文件。", "Upload at least one file."),
    "file_not_in_case": M("办件 {serial} 没有这个文件。", "Case {serial} has no such file."),
    "file_not_found": M("本大厅没有这个文件。", "There is no such file in this hall's store."),
    "personal_data_erased": M(
        "办件 {serial} 的个人信息和材料已在保存期满后依法删除，无法再查看。",
        "The personal data and files of case {serial} were erased after its retention period; they cannot be shown.",
    ),
    "one_document_at_most": M("只能上传一份决定文书。", "One result document at most."),
    # ---------------------------------------------------------------- cases and their states
    "case_not_found": M(
        "本大厅没有办件 {serial}，请核对办件编号。", "There is no case {serial} at this hall; check the serial."
    ),
    "package_not_received": M(
        "办件材料尚未从受理大厅转来并核验，请稍后再办理。",
        "The case's package has not been received and verified yet; try again shortly.",
    ),
    "acceptance_already_decided": M("该办件已作出受理决定。", "Acceptance has already been decided for this case."),
    "acceptance_awaits_supplement": M(
        "已发出受理前补正告知，须等申请人补正材料后才能受理（如不予受理，可填写理由直接作出）。",
        "A supplement was asked for before acceptance; accept once it is in (a refusal with a reason is possible).",
    ),
    "rejection_reason_required": M("不予受理须填写理由。", "A refusal to accept needs a reason."),
    "denial_reason_required": M("不予许可须填写理由。", "A denial needs a reason."),
    "denial_document_required": M("不予许可须上传不予许可决定书。", "A denial needs the decision document."),
    "case_not_accepted": M("该办件尚未受理。", "The case has not been accepted."),
    "case_already_decided": M("该办件已经办结。", "The case has already been decided."),
    "step_name_invalid": M(
        "步骤名称应为小写英文短名，如“review”“site_inspection”。",
        "A step is a short lowercase name such as 'review' or 'site_inspection'.",
    ),
    "supplement_materials_required": M("请勾选需要补正的材料。", "Name at least one material to supplement."),
    "supplement_not_requested": M("该办件没有待补正的要求。", "No supplement has been requested for this case."),
    "supplement_already_requested": M(
        "已经发出补正告知，须等申请人补正后才能再次告知。",
        "A supplement request is already open; wait for the applicant's supplement.",
    ),
    "result_not_received": M(
        "办理结果尚未转到本大厅并核验，请稍后再送达。",
        "The result has not been received and verified at this hall yet.",
    ),
    "already_delivered": M("该办件的结果已经送达。", "The result has already been delivered."),
    "delivery_method_unknown": M(
        "送达方式只能是窗口领取、邮寄或电子送达。", "Delivery is at the counter, by post or electronic."
    ),
    "tracking_number_required": M("邮寄送达须填写邮件单号。", "Delivery by post needs the tracking number."),
    "tracking_number_format": M("邮件单号应为8至30位字母或数字。", "A tracking number is 8 to 30 letters or digits."),
    "recipient_name_required": M("请填写领取人（签收人）姓名。", "Enter the name of the person receiving the result."),
    "not_a_dispute_stage": M("{stage} 不是争议阶段。", "{stage} is not a dispute stage."),
    "lookup_not_found": M(
        "办件编号或查询码不对，请核对受理回执上的编号和查询码。",
        "The serial or the lookup code is not right; check them on the receipt.",
    ),
    "lookup_rate_limited": M(
        "查询过于频繁，请 {retry_after} 秒后再试。", "Too many look-ups; try again in {retry_after} seconds."
    ),
    "access_action_unknown": M("未知的访问类型：{action}。", "Unknown access action {action}."),
    "reveal_reason_required": M("查看完整信息须选择原因。", "Say why the full details are needed."),
    "retention_running": M(
        "办件 {serial} 的保存期限到 {until} 才届满，现在不能删除个人信息。",
        "The retention period of case {serial} runs until {until}.",
    ),
    # ---------------------------------------------------------------- disputes and verification
    "text_required": M("此项必须填写。", "This is required."),
    "text_too_long": M("最多 {max} 个字符。", "At most {max} characters."),
    "dispute_not_found": M(
        "办件 {serial} 没有编号为 {seq} 的争议。", "Case {serial} has no dispute {seq} at this hall."
    ),
    "dispute_already_resolved": M("该争议已经处理完毕。", "Dispute {seq} of case {serial} is already resolved."),
    "report_not_found": M(
        "没有找到这份核验报告。", "There is no verification report {digest} for case {serial} at this hall."
    ),
    "bundle_other_case": M(
        "上传的证据包属于办件 {found}，不是 {serial}。", "The bundle is for case {found}, not {serial}."
    ),
    "document_empty": M("上传的文件是空的。", "The uploaded file is empty."),
    "bundle_or_document_required": M(
        "请上传证据包或一份文件。", "Upload a file part named bundle (evidence bundle) or document (one file)."
    ),
    "bundle_format": M("证据包格式不对（应为 {expected}）。", "Expected bundle format {expected}, found {found}."),
    "bundle_duplicate_event": M(
        "证据包中事件序号 {index} 出现了两次（另见 {first}），每个事件只能出现一次。",
        "Has event index {index}, which {first} already has; each event index appears once.",
    ),
    # the bundle against its JSON Schema (the field is the JSON path, e.g. events.2.record.fields.decision)
    "bundle_not_field_name": M(
        "“{name}”不是合法的字段名（小写字母开头，其后最多63个小写字母、数字或下划线）。",
        "{name} is not a field name (a lowercase letter, then up to 63 lowercase letters, digits or _).",
    ),
    "bundle_unknown_property": M("证据包格式中没有“{name}”这一项。", "The bundle format has no property {name}."),
    "bundle_property_missing": M(
        "缺少“{name}”一项，证据包格式要求必须提供。", "{name} is missing; the bundle format requires it."
    ),
    "bundle_value_kind": M("此处应为{want_zh}，实为{found_zh}。", "This must be {want_en}, not {found_en}."),
    "bundle_value_spelling": M("此处应为{want_zh}。", "This must be {want_en}."),
    "bundle_value_too_small": M(
        "此处不能小于 {bound}，实为 {value}。", "This must be at least {bound}, found {value}."
    ),
    "bundle_value_too_large": M("此处不能大于 {bound}，实为 {value}。", "This must be at most {bound}, found {value}."),
    "bundle_value_not_allowed": M(
        "此处应为 {allowed} 之一，实为 {value}。", "This must be one of {allowed}, found {value}."
    ),
    "bundle_too_short": M("此处至少应有 {bound} {unit_zh}。", "This needs at least {bound} {unit_en}."),
    "bundle_too_long": M("此处最多 {bound} {unit_zh}。", "This allows at most {bound} {unit_en}."),
    "bundle_value_form": M(
        "此处内容不符合证据包格式的要求。", "This does not have the form the bundle format requires here."
    ),
    "bundle_other_deployment": M(
        "证据包与受信任的部署信息不符（证据包为 {bundle}，部署信息为 {chain}）。",
        "The bundle says {bundle}, the trusted deployment is {chain}.",
    ),
    "trusted_registry_mismatch": M(
        "给定的受信任登记合约 {given} 不是该存证合约所用的登记合约（{served}）。",
        "The trusted registry {given} is not the ledger's registry ({served}).",
    ),
    "trusted_chain_mismatch": M(
        "部署信息写的链编号是 {given}，所连链节点为 {served}。",
        "The deployment names chain {given}, the endpoint serves chain {served}.",
    ),
    "trusted_ledger_mismatch": M(
        "大厅提供的证明指向存证合约 {found}，不是受信任的存证合约 {given}。",
        "The hall's proof names the ledger {found}, not the trusted ledger {given}.",
    ),
    "trusted_registry_without_ledger": M(
        "只给了登记合约地址：请同时给出受信任的存证合约地址（--ledger）。",
        "A trusted registry needs the trusted ledger address too (--ledger).",
    ),
    "deployment_file_invalid": M(
        "部署信息文件 {path} 不是有效的部署信息（应含存证合约地址“ledger”）。",
        "{path} is not a deployment file (a JSON object with the ledger address).",
    ),
    "trusted_address_invalid": M(
        "给定的受信任合约地址“{address}”不是20字节的十六进制地址。",
        "The trusted address {address} given is not a 20-byte hex address.",
    ),
    "no_contract_addresses": M("没有可读取的合约地址。", "No contract addresses to read from."),
    "record_value_not_json": M("字段值无法规范化为 JSON。", "The value cannot be canonicalised as JSON ({reason})."),
    "record_field_name": M(
        "字段名只能由小写字母、数字和下划线组成（最多64位）。",
        "Field names are lowercase letters, digits and '_' (at most 64).",
    ),
    "proof_index_outside": M("证明中的位置超出了树的大小。", "Leaf index {index} outside a tree of {size}."),
    "proof_short": M("包含证明比树需要的短。", "The inclusion proof is shorter than the tree needs."),
    "proof_long": M("包含证明比树允许的长。", "The inclusion proof is longer than the tree allows."),
    "proof_root": M("包含证明算不出链上的根。", "The inclusion proof does not lead to the expected root."),
    "hashchain_bytes": M("哈希链的输入应为32字节。", "The previous head and the commitment must be 32 bytes."),
    "address_invalid": M("“{address}”不是20字节的十六进制地址。", "{address} is not a 20-byte hex address."),
    "item_code_too_long": M(
        "事项编码最多16个英文字符。", "The service item code {code} is longer than 16 ASCII characters."
    ),
    # ---------------------------------------------------------------- Merkle mode: batches and manifests
    "anchor_mode_invalid": M(
        "上链方式只能是逐条上链（event）或按批次上链（merkle）。",
        "The anchor mode is 'event' or 'merkle', not {mode}.",
    ),
    "leaf_invalid": M("批次中的事件叶子不完整或格式不对。", "The batch leaf is not valid: {reason}."),
    "leaf_serial_length": M("办件编号应为1至64字节。", "A serial is 1 to 64 bytes of UTF-8."),
    "batch_empty": M("一个批次至少包含一个事件。", "A batch holds at least one leaf."),
    "manifest_invalid": M("批次清单不完整或格式不对。", "The batch manifest is not valid: {reason}."),
    "manifest_not_found": M(
        "本大厅没有批次 {hall}/{seq} 的清单。", "This hall holds no manifest of batch {hall}/{seq}."
    ),
    "manifest_source_invalid": M(
        "批次清单来源应为 http:// 或 https:// 地址，或一个目录。",
        "A manifest source is an http(s):// URL or a directory, not {source}.",
    ),
    "manifest_dir_invalid": M("“{path}”不是存放批次清单的目录。", "{path} is not a directory of batch manifests."),
    "bundle_merkle_mode": M(
        "这是按批次上链（Merkle 模式）的证据包，应按批次根核验。",
        "This bundle is in Merkle mode: it is checked against batch roots, not event logs.",
    ),
    "bundle_merkle_batch_missing": M(
        "按批次上链（Merkle 模式）的证据包中，每个事件都须附带其批次和包含证明。",
        "A Merkle-mode bundle needs every event's batch and inclusion proof.",
    ),
    "bundle_batch_in_event_mode": M(
        "逐条上链（事件模式）的证据包中，事件不能附带批次证明。",
        "An event-mode bundle's events carry no batch proof (batch is for Merkle mode).",
    ),
    "bundle_event_mode": M(
        "这是逐条上链的证据包，应按链上事件核验。", "This bundle is in event mode; verify it with verify_bundle."
    ),
    # the single-document check of a Merkle-mode case: which untrusted answer did not hold
    "document_batch_not_on_chain": M(
        "证明所称的批次 {hall}/{seq} 不在链上第 {block} 号区块中，不能认定该文件已登记。",
        "Batch {hall}/{seq} named by the proof is not on chain in block {block}: the batch root is not on chain.",
    ),
    "document_leaf_not_in_batch": M(
        "登记该文件的事件叶子不在批次 {hall}/{seq} 中（包含证明与链上批次根不符）。",
        "The event leaf committing to the file is not in batch {hall}/{seq} (its inclusion proof does not lead "
        "to the on-chain batch root).",
    ),
    "document_record_not_leaf": M(
        "证明中的{stage_zh}记录与批次中事件叶子的承诺不符。",
        "The {stage} record of the proof does not match the commitment in its batch leaf.",
    ),
    "document_not_committed": M(
        "该文件不是本办件{stage_zh}环节登记的文件（内容或文件清单根不符）。",
        "This file is not the one committed at the case's {stage} stage (its content or the file tree's root differs).",
    ),
    # ---------------------------------------------------------------- hall operations
    "hall_not_registered": M("没有编号为 {hall} 的大厅。", "There is no hall with id {hall} in the registry."),
    "not_base64": M(
        "文件内容不是有效的 Base64 编码。",
        "This is not base64 (RFC 4648 §4, with padding).",
    ),
    "bundle_not_object": M(
        "上传的文件不是证据包。",
        "An evidence bundle is a JSON object.",
    ),
    "bundle_format_1": M(
        "这是旧格式（第1版）的证据包，请用 CaseLedger 0.1.x 核验。",
        "This is a format-1 bundle (caseledger-evidence/1): check it with CaseLedger 0.1.x.",
    ),
    "ledger_not_format_2": M(
        "该地址上没有第2版格式的存证合约。",
        "No format-2 CaseLedger contract answers at {ledger} (format 1 or no contract).",
    ),
    "ledger_format": M(
        "该存证合约是第 {version} 版格式，本版本只核验第2版。",
        "The CaseLedger at {ledger} is format {version}; this release checks format 2.",
    ),
    "json_too_large": M(
        "内容有 {size} 字节，最多接受 {max_bytes} 字节。",
        "The JSON document is {size} bytes; at most {max_bytes} are accepted.",
    ),
    "json_duplicate_key": M(
        "键“{key}”在 {where} 的对象中出现了两次，每个键只能出现一次。",
        "The key {key} appears twice in the object at {where}; each key may appear once.",
    ),
    "json_lone_surrogate": M(
        "此处文字不是有效的 Unicode 文本（含孤立的代理码位，如 \\ud800）。",
        "This is not valid Unicode text (it holds a lone surrogate such as \\ud800).",
    ),
    "json_lone_surrogate_key": M(
        "此处有键名不是有效的 Unicode 文本（含孤立的代理码位，如 \\ud800）。",
        "A key here is not valid Unicode text (it holds a lone surrogate such as \\ud800).",
    ),
    "json_bom": M(
        "文件开头带有字节顺序标记（BOM）；JSON 须为不带 BOM 的 UTF-8。",
        "The file starts with a byte-order mark (BOM); JSON is UTF-8 without one (RFC 8259 §8.1).",
    ),
    "json_not_integer": M(
        "此处是带小数点或指数的数字（{value}），本格式中的数字须为只用数字书写的整数。",
        "This is a number written with a fraction or an exponent ({value}); numbers here are integers "
        "written with digits only.",
    ),
    "json_invalid": M(
        "不是有效的 JSON 内容{where}。",
        "This is not valid JSON{where}.",
    ),
    "file_missing": M(
        "文件不存在：{path}。",
        "There is no file at {path}.",
    ),
    "data_keys_dir_invalid": M(
        "{path} 不是数据密钥库（里面没有数据密钥库的文件），请指定本大厅的数据密钥库目录。",
        "{path} is not a data-key store (no LevelDB there); give this hall's data-key store directory.",
    ),
    "file_unreadable": M(
        "无法读取文件 {path}。",
        "{path} cannot be read ({reason}).",
    ),
    "record_value_scalar": M(
        "记录的值只能是文字、整数、是/否或空值（多项内容合为一段文字）。",
        "A record value is a string, an integer within ±(2^53-1), true/false or null (a list is one string).",
    ),
    "record_at_format": M(
        "记录时间格式不对（应为带时区、精确到秒的时间）。",
        "{at} is not an RFC 3339 time with offset and whole seconds.",
    ),
    "record_intake_no_commitment": M(
        "受理记录本身不引用受理承诺。",
        "An INTAKE record is the intake: it carries no intake_commitment.",
    ),
    "record_needs_intake_commitment": M(
        "受理之后的每条记录都须引用受理事件的承诺值。",
        "Every record after INTAKE names event 0's commitment (0x + 64 hex).",
    ),
    "record_resolves_only_resolution": M(
        "只有争议处理记录才指明所处理的争议。",
        "DISPUTE_RESOLVED, and only it, names the dispute it closes.",
    ),
    "record_resolves_index": M(
        "所处理的争议编号应为1或更大。",
        "The index of a DISPUTE_OPENED event (1 or more).",
    ),
    "record_frame_field": M(
        "该字段由记录本身设定，不能作为内容传入。",
        "This field is set by the record itself, not passed as a field.",
    ),
    "suite_unknown": M(
        "未知的哈希算法套件 {suite}（应为国际算法“intl”或国密算法“gm”）。",
        "Unknown hash suite {suite} (expected 'intl' or 'gm').",
    ),
    "roles_one_admin": M(
        "系统管理员、安全管理员、安全审计员三员分立，一个账号只能担任其中一个。",
        "An account holds at most one of sys_admin, security_admin and auditor (separation of duties).",
    ),
    "roles_admin_no_cases": M(
        "管理员账号不能同时办理业务，请为业务另建账号。",
        "An administrator account cannot also handle cases; give case roles to another account (separation of duties).",
    ),
    "roles_not_own": M(
        "不能修改自己的角色，请另一位安全管理员办理。",
        "Nobody changes their own roles; ask another security administrator.",
    ),
    "totp_unreadable": M(
        "本节点无法读取该账号的动态口令设置，请安全管理员为其重置动态口令。",
        "This account's second factor cannot be read on this node (its key-encryption "
        "key is missing or another); the security administrator resets it.",
    ),
    "lock_target_required": M(
        "请指定要解除锁定的账号或地址。",
        "Name the account or the address whose lock to clear.",
    ),
    "too_many_sign_ins_address": M(
        "本机登录失败次数过多，请 {retry_after} 秒后再试。",
        "Too many failed sign-ins from this address; try again in {retry_after} seconds.",
    ),
    "reissue_not_held": M(
        "办件 {serial} 没有被暂停，只有受理事件被链上拒绝的办件才需要重新编号。",
        "Case {serial} is not held; only a case whose INTAKE was refused is reissued.",
    ),
    "reissue_done": M(
        "办件 {serial} 已重新编号为 {new}。",
        "Case {serial} was already reissued as {new}.",
    ),
    "no_report_yet": M(
        "办件 {serial} 还没有核验报告，请先核验。",
        "Case {serial} has no stored verification report yet: verify first.",
    ),
    "digest_format": M(
        "文件摘要应为64位十六进制数字。",
        "The {suite} digest of a file is 64 hexadecimal digits.",
    ),
    "password_too_long": M(
        "密码最多 {max} 位。",
        "The password has at most {max} characters.",
    ),
    "bundle_other_coordinates": M(
        "证据包与所连区块链节点上的记录不属于同一办件或同一部署（{bundle} / {chain}）。",
        "The bundle says {bundle}, the chain endpoint serves {chain}.",
    ),
    "withhold_protected": M(
        "字段 {name} 不能隐去：核验需要它。",
        "{name} cannot be withheld: the verifier needs it to check the record.",
    ),
    "withhold_unknown_field": M(
        "办件记录中没有字段 {name}。",
        "The case's records have no field {name}.",
    ),
    "disclose_not_personal": M(
        "{name} 不是个人信息字段（其他字段本来就会公开）。",
        "{name} is not a personal field (those are {fields}); every other field is disclosed anyway.",
    ),
    "disclose_and_withhold": M(
        "字段 {name} 不能既隐去又公开。",
        "{name} is named in both withhold and disclose.",
    ),
    "not_identity_document": M(
        "{kind} 不是身份证明材料类型。",
        "{kind} is not an identity document kind (those are {kinds}).",
    ),
    "disclose_reason_required": M(
        "公开个人信息须填写理由（记入访问留痕）。",
        "Give the reason for disclosing personal data (it is kept in the access trail).",
    ),
    "holidays_invalid": M(
        "节假日安排文件内容不正确，请核对后重新上传。",
        "The holiday arrangement is not valid: {reason}.",
    ),
    "dispute_open_by_you": M(
        "您在办件 {serial} 上已有一项未结争议，请先处理该争议。",
        "You already have an open dispute on case {serial}: resolve it first.",
    ),
    "dispute_raised_by": M(
        "请选择争议由谁提出：申请人、大厅或部门。", "Say who raised the dispute: the applicant, a hall or a department."
    ),
    "dispute_other_hall": M(
        "该争议由另一个大厅（编号 {hall}）提起，只能由该大厅处理；本厅可查看其处理结果。",
        "This dispute was opened by hall {hall}: only that hall can resolve it; its resolution will show here.",
    ),
    "dispute_open_limit": M(
        "本厅在办件 {serial} 上已有 {max} 项未结争议，请先处理其中一项。",
        "This hall already has {max} open disputes on case {serial}: resolve one first.",
    ),
    "bundle_other_hall": M(
        "上传的证据包属于另一个大厅受理的同号办件。",
        "The bundle is for hall {found}'s case; this hall holds hall {hall}'s.",
    ),
    "verify_document_needs_bundle": M(
        "核验单个文件还须提供含其证明的证据包（--bundle 文件）。",
        "--document needs the bundle holding its proof (--bundle FILE).",
    ),
    "verify_bundle_required": M(
        "请给出要核验的证据包。",
        "Give the evidence bundle to check.",
    ),
    "positive_hours": M(
        "须为大于零的小时数。",
        "Must be a positive number of hours.",
    ),
    "rpc_url_scheme": M(
        "区块链节点地址须以 http:// 或 https:// 开头。",
        "The chain endpoint must be an http:// or https:// URL, not {url}.",
    ),
    "password_contains_username": M(
        "密码不能包含账号的用户名。", "The password must not contain the account's username."
    ),
    "password_contains_display_name": M(
        "密码不能包含账号的显示名称。", "The password must not contain the account's display name."
    ),
    "password_weak": M(
        "密码过于常见或容易被猜到（常见密码、姓名、键盘序列、连续或重复字符），请使用更长的密码短语。",
        "The password is too common or too easy to guess (a common password, a name, a keyboard pattern, a "
        "sequence or a repeat){hint}; use a longer passphrase.",
    ),
    "secret_unreadable": M(
        "本节点无法读取加密保存的内容（密钥不符），请联系安全管理员。",
        "A sealed value does not open with this node's key-encryption key; call the security administrator.",
    ),
    "idempotency_key_invalid": M(
        "请求标识（Idempotency-Key）应为 8 至 200 个可见字符，请刷新页面后重试。",
        "Idempotency-Key must be 8 to 200 printable characters.",
    ),
    "idempotency_in_progress": M(
        "同一请求正在处理中，请稍候。", "A request with this Idempotency-Key is still being processed."
    ),
    "idempotency_key_reused": M(
        "该请求标识已用于另一项操作，请刷新页面后重试。",
        "This Idempotency-Key was already used for another request ({request}).",
    ),
    "idempotency_answer_lost": M(
        "该操作已保存，但答复丢失；请在办件列表中查看结果。",
        "The first request with this Idempotency-Key was saved, but its answer was lost; look the result up.",
    ),
}


# the staff roles as the sentences name them (the pages' own role labels are in node_api/pages/i18n.py)
ROLE_NAMES_ZH: dict[str, str] = {
    "clerk": "受理窗口",
    "officer": "承办人员",
    "dispute_officer": "核验人员",
    "regulator": "监管人员",
    "hall_admin": "大厅管理员",
    "sys_admin": "系统管理员",
    "security_admin": "安全管理员",
    "auditor": "安全审计员",
}


def role_names_zh(roles: Any) -> str:
    """``("officer", "regulator")`` → ``"承办人员或监管人员"``."""
    return "或".join(ROLE_NAMES_ZH.get(str(r), str(r)) for r in roles)


class _Keep(dict[str, Any]):
    """Formatting map that leaves an unknown placeholder as it is (a sentence never crashes)."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render(code: str, params: dict[str, Param] | None = None, lang: str = "en") -> str:
    """The sentence of ``code`` in ``lang`` (``zh`` or ``en``) with ``params`` filled in."""
    msg = MESSAGES.get(code) or MESSAGES["internal_error"]
    template = msg.zh if lang.startswith("zh") else msg.en
    values = _Keep({k: "" if v is None else v for k, v in (params or {}).items()})
    return string.Formatter().vformat(template, (), values)


def placeholders(template: str) -> set[str]:
    """The ``{name}`` placeholders of a template."""
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


ZH_LATIN_ALLOWED = frozenset(
    {
        # file kinds and units staff see on the counter
        "PDF", "JPG", "PNG", "OFD", "CSV", "Excel", "xlsx", "JSON", "MB",
        # what a technical line names by its standard's name
        "ID", "TOTP", "URL", "RFC", "http", "https", "SHA", "UTF", "BOM", "Base64", "Unicode", "Merkle",
        # proper nouns
        "CaseLedger", "Google", "Authenticator", "English",
    }
)  # fmt: skip
"""Latin words a Chinese sentence may hold: abbreviations and names staff use as they are"""

_LATIN = re.compile(r"(?<![A-Za-z0-9_.\\-])(-{0,2})([A-Za-z][A-Za-z0-9_'-]*)")
_LONE_CODE = re.compile(r"[（“「]\s*-{0,2}[A-Za-z][A-Za-z0-9_.-]*\s*[）”」]")


def foreign_words(zh: str) -> list[str]:
    """The English words in a Chinese sentence, which should say them in Chinese (empty: fully Chinese).

    Not counted: ``{placeholders}``, the words of :data:`ZH_LATIN_ALLOWED`, a command-line option (``--ledger``),
    a token with a digit or an underscore (a code, a hash, a serial, a field's name), a file's extension, and
    a lone code given in brackets beside its Chinese name (``办理时间（at）``, ``“review”``)::

        >>> foreign_words("记录未载明办理时间（at）")
        []
        >>> foreign_words("写入方无权写入该环节（not the accepting hall）")
        ['not', 'the', 'accepting', 'hall']
    """
    text = _LONE_CODE.sub("", re.sub(r"\{[^{}]*\}", "", zh))
    out = []
    for dashes, word in _LATIN.findall(text):
        if dashes == "--" or word in ZH_LATIN_ALLOWED or any(ch.isdigit() or ch == "_" for ch in word):
            continue
        if len(word.strip("_'-")) < 2:
            continue
        out.append(word)
    return out
