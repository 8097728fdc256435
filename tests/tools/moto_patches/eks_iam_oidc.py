"""IAM OpenID Connect provider calls that moto 5.2 lacks.

Gap: ``AddClientIDToOpenIDConnectProvider`` and ``RemoveClientIDFromOpenIDConnectProvider`` are
not implemented (moto answers "not yet implemented"), so a client can create a provider with an
audience list but never change it. Upstream, adding a client id that is already present and
removing one that is absent both succeed without a change; a missing provider is
``NoSuchEntity``. The EKS IRSA set-up needs the audience ``sts.amazonaws.com`` on the cluster's
OIDC provider, and mlops.eks_platform.iam_oidc_provider converges the audience list with these
two calls.
"""


def apply():
    from moto.core.responses import EmptyResult
    from moto.iam import responses

    def add_client_id_to_open_id_connect_provider(self):
        provider = self.backend.get_open_id_connect_provider(self._get_param("OpenIDConnectProviderArn"))
        client_id = self._get_param("ClientID")
        if client_id not in provider.client_id_list:
            provider.client_id_list.append(client_id)
        return EmptyResult()

    def remove_client_id_from_open_id_connect_provider(self):
        provider = self.backend.get_open_id_connect_provider(self._get_param("OpenIDConnectProviderArn"))
        client_id = self._get_param("ClientID")
        if client_id in provider.client_id_list:
            provider.client_id_list.remove(client_id)
        return EmptyResult()

    responses.IamResponse.add_client_id_to_open_id_connect_provider = add_client_id_to_open_id_connect_provider
    responses.IamResponse.remove_client_id_from_open_id_connect_provider = \
        remove_client_id_from_open_id_connect_provider
