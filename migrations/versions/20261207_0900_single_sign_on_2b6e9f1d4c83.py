"""single sign-on: user.password_hash may be empty (an account made by OpenID Connect has no password),
user_identity (issuer + subject -> user), oidc_flow (sign-ins under way, shared by every process)

Revision ID: 2b6e9f1d4c83
Revises: 7c1d2e3f4a5b
Create Date: 2026-12-07 09:00:00
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '2b6e9f1d4c83'
down_revision: Union[str, Sequence[str], None] = '7c1d2e3f4a5b'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('password_hash', existing_type=sa.String(length=255), nullable=True)
    op.create_table(
        'user_identity',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('issuer', sa.String(length=255), nullable=False),
        sa.Column('subject', sa.String(length=255), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_sign_in_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_user_identity_user_id_user'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_user_identity')),
        sa.UniqueConstraint('issuer', 'subject', name=op.f('uq_user_identity_issuer')),
    )
    with op.batch_alter_table('user_identity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_user_identity_user_id'), ['user_id'], unique=False)
    op.create_table(
        'oidc_flow',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('state_hash', sa.String(length=64), nullable=False),
        sa.Column('browser_hash', sa.String(length=64), nullable=False),
        sa.Column('nonce', sa.String(length=128), nullable=False),
        sa.Column('code_verifier', sa.String(length=128), nullable=False),
        sa.Column('redirect_uri', sa.String(length=2048), nullable=False),
        sa.Column('next_url', sa.String(length=2048), nullable=False),
        sa.Column('ip', sa.String(length=64), nullable=False),
        sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_oidc_flow')),
        sa.UniqueConstraint('state_hash', name=op.f('uq_oidc_flow_state_hash')),
    )
    with op.batch_alter_table('oidc_flow', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_oidc_flow_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_oidc_flow_ip'), ['ip'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('oidc_flow', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_oidc_flow_ip'))
        batch_op.drop_index(batch_op.f('ix_oidc_flow_expires_at'))
    op.drop_table('oidc_flow')
    with op.batch_alter_table('user_identity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_user_identity_user_id'))
    op.drop_table('user_identity')
    # Accounts without a password get one that matches nothing (not an argon2 hash: it verifies nothing;
    # not '', which the sign-in would treat as no hash at all).
    op.execute(sa.text('UPDATE "user" SET password_hash = \'!single-sign-on\' WHERE password_hash IS NULL'))
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.alter_column('password_hash', existing_type=sa.String(length=255), nullable=False)
