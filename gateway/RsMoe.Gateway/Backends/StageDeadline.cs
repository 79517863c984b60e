namespace RsMoe.Gateway.Backends;

/// <summary>
/// A backend stage's deadline: its own timeout, never later than the caller's deadline. Which of the two it is decides
/// whose fault a <c>DeadlineExceeded</c> is: the replica's when its own timeout ran out, the caller's otherwise.
/// </summary>
public readonly record struct StageDeadline(DateTime At, bool IsStageTimeout)
{
    public static StageDeadline Of(DateTime callerDeadline, TimeSpan stageTimeout)
    {
        var stage = DateTime.UtcNow + stageTimeout;
        return stage < callerDeadline ? new StageDeadline(stage, true) : new StageDeadline(callerDeadline, false);
    }
}
