"""user.theme: the colour theme a user chose ("light", "dark"), or "" to follow the browser's
prefers-color-scheme (the default)

Revision ID: 7c1d2e3f4a5b
Revises: 5e2d7c41a9b0
Create Date: 2026-12-06 22:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '7c1d2e3f4a5b'
down_revision: Union[str, Sequence[str], None] = '5e2d7c41a9b0'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('theme', sa.String(length=8), server_default='', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('theme')
