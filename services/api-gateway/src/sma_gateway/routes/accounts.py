"""/api/accounts: tracked accounts, and one account with its job and latest values."""

from __future__ import annotations

from aiohttp import web
from pydantic import TypeAdapter

from sma_gateway import state
from sma_gateway.openapi import operation
from sma_gateway.pagination import decode_cursor, encode_cursor, next_link, page_limit, split_page
from sma_gateway.problem import not_found
from sma_gateway.repositories import accounts
from sma_gateway.responses import list_response, model_response
from sma_gateway.schemas import AccountDetail, AccountId, AccountListQuery, AccountOut
from sma_gateway.validation import parse_account_id, parse_query

_CURSOR = TypeAdapter(tuple[AccountId])


@operation("List tracked accounts", query=AccountListQuery, response=list[AccountOut], paginated=True,
           csv=True)
async def list_accounts(request: web.Request) -> web.Response:
    query = parse_query(request, AccountListQuery)
    settings = request.app[state.SETTINGS]
    limit = page_limit(query.limit, settings.page_limit_default, settings.page_limit_max)
    after = decode_cursor(query.cursor, _CURSOR)[0] if query.cursor else None
    rows = await accounts.list_accounts(request.app[state.DATABASE].pool, query.platform, after, limit + 1)
    page, last = split_page(rows, limit)
    link = next_link(request.rel_url, cursor=encode_cursor([last.id])) if last else None
    return list_response(request, AccountOut, page, link)


@operation("One account, with its job and the latest value of each metric", path={"id": AccountId},
           response=AccountDetail)
async def get_account(request: web.Request) -> web.Response:
    account_id = parse_account_id(request)
    account = await accounts.get_account(request.app[state.DATABASE].pool, account_id)
    if account is None:
        raise not_found(f"No account with id {account_id}.")
    return model_response(account)


def routes() -> list[web.RouteDef]:
    return [
        web.get("/api/accounts", list_accounts),
        web.get("/api/accounts/{id}", get_account),
    ]
