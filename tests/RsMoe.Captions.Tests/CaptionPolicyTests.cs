using RsMoe.Captions;

namespace RsMoe.Captions.Tests;

/// <summary>The one caption policy the in-process captioner and the gateway share.</summary>
public sealed class CaptionPolicyTests
{
    [Fact]
    public void AQuestionGoesToTheExpertsByGateHighestFirstAndTiesKeepTheExpertsOrder()
    {
        Assert.Equal([2, 0, 1], CaptionPolicy.AnswerOrder([0.3, 0.1, 0.6]));
        Assert.Equal([1, 2, 0, 3], CaptionPolicy.AnswerOrder([0.1, 0.4, 0.4, 0.1]));
        Assert.Empty(CaptionPolicy.AnswerOrder([]));
    }
}
