using RsMoe.Captions;
using RsMoe.Model.Router;

namespace RsMoe.Model.Tests.Router;

public sealed class RouterConfigTests
{
    [Fact]
    public void ARouterWithoutRolesOfItsOwnHasThePolicysThreeExperts() =>
        Assert.Equal(CaptionPolicy.Roles, new RouterConfig().ExpertRoles);
}
